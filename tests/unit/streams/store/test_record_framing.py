"""The commit path's record framing (`streams.runtime.pipeline.account_record`) of what the
core dumps (`Engine.dump_many`) is the record `pack_record` frames of `Engine.dump`'s blobs."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.engine import Engine
from streams.runtime.pipeline import account_record
from streams.store.state_store import pack_record, record_name
from tests.unit.factories import ACCOUNT, DAY, T0, event, scoring_md_model


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.binary(min_size=1, max_size=5), st.binary(max_size=20_000)), max_size=4),
    st.one_of(st.none(), st.binary(max_size=300)),
)
def test_a_record_frames_each_entry_as_pack_record_does(
    entries: list[tuple[bytes, bytes]], meta: bytes | None
) -> None:
    names = tuple(name for name, _ in entries)
    values = tuple(value for _, value in entries)
    expected = ([] if meta is None else [(b"m", meta)]) + entries
    assert account_record(names, values, meta) == b"".join(
        pack_record({name: value}) for name, value in expected
    )


def test_dumped_states_frame_into_the_records_of_their_dumps() -> None:
    expansion = dataclasses.replace(scoring_md_model(version=1), id="expansion")
    engine = Engine([scoring_md_model(), expansion])
    states = [engine.new_account(ACCOUNT), engine.new_account(ACCOUNT + "-2")]
    engine.apply_event(states[0], event("f1", "form_submit", T0, form="demo"))
    engine.apply_event(states[0], event("p1", "page_view", T0 + DAY, url="/pricing"))
    names = {m.id: record_name(f"s:{m.id}") for m in engine.models}
    whole = engine.dump_many(states)
    assert whole.metas is not None
    for state, meta, blobs in zip(states, whole.metas, whole.blobs, strict=True):
        dumped_meta, dumped_blobs = engine.dump(state)
        entries = {b"m": dumped_meta} | {names[m]: blob for m, blob in dumped_blobs.items()}
        assert account_record(tuple(names.values()), blobs, meta) == pack_record(entries)
    some = engine.dump_many(states, ["expansion"])
    assert some.metas is None
    for state, blobs in zip(states, some.blobs, strict=True):
        blob = engine.dump(state)[1]["expansion"]
        assert account_record((names["expansion"],), blobs, None) == pack_record(
            {names["expansion"]: blob}
        )
