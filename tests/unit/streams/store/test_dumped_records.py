"""The records a commit writes of what the core dumps in a batch (`Engine.dump_many`, framed
by `pack_account_record` as the pipeline does) are the records of `Engine.dump`'s blobs."""

from __future__ import annotations

import dataclasses

from scoring.engine import Engine
from streams.store.records import pack_account_record, pack_record, record_name
from tests.unit.factories import ACCOUNT, DAY, T0, event, scoring_md_model


def test_dumped_states_frame_into_the_records_of_their_dumps() -> None:
    expansion = dataclasses.replace(scoring_md_model(version=1), id="expansion")
    engine = Engine([scoring_md_model(), expansion])
    states = [engine.new_account(ACCOUNT), engine.new_account(ACCOUNT + "-2")]
    engine.apply_event(states[0], event("f1", "form_submit", T0, form="demo"))
    engine.apply_event(states[0], event("p1", "page_view", T0 + DAY, url="/pricing"))
    ids = [m.id for m in engine.models]
    whole = engine.dump_many(states)
    assert whole.metas is not None
    for state, meta, blobs in zip(states, whole.metas, whole.blobs, strict=True):
        dumped_meta, dumped_blobs = engine.dump(state)
        entries = {b"m": dumped_meta} | {record_name(f"s:{m}"): b for m, b in dumped_blobs.items()}
        assert pack_account_record(meta, zip(ids, blobs, strict=True)) == pack_record(entries)
    some = engine.dump_many(states, ["expansion"])
    assert some.metas is None
    for state, blobs in zip(states, some.blobs, strict=True):
        blob = engine.dump(state)[1]["expansion"]
        assert pack_account_record(None, [("expansion", *blobs)]) == pack_record(
            {record_name("s:expansion"): blob}
        )
