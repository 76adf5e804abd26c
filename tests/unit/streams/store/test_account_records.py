"""The account record's framing and the buckets (`streams.store.records`)."""

from __future__ import annotations

import struct
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring.loader.rules import MODEL_ID
from scoring.state import StateDecodeError
from streams.store.records import (
    account_bucket,
    check_record_names,
    name_hash,
    pack_account_record,
    pack_record,
    record_name,
    sorted_set_bucket,
    split_record,
)


def test_a_record_is_entries_of_a_short_name_a_varint_length_and_the_value() -> None:
    record = pack_record({b"m": b"meta", record_name("s:nb"): b"x" * 200})

    code = struct.pack(">I", name_hash("nb"))
    assert record == b"m\x04meta" + b"s" + code + b"\xc8\x01" + b"x" * 200
    assert record_name("m") == b"m" and record_name("p") == b"p"
    assert record_name("s:new-business") == b"s" + struct.pack(">I", name_hash("new-business"))


record_names = st.sampled_from([b"m", b"p"]) | st.binary(min_size=4, max_size=4).map(
    lambda code: b"s" + code
)


@given(
    st.dictionaries(
        record_names,
        # Lengths of one, two and three varint bytes.
        st.binary(max_size=300) | st.integers(0, 20_000).map(lambda n: bytes([n % 251]) * n),
        max_size=6,
    )
)
def test_any_entries_round_trip_and_a_record_cut_short_is_refused(entries: dict) -> None:
    record = pack_record(entries)

    assert split_record(record) == entries
    # A cut between two entries leaves a shorter record (records have no count: Redis keeps
    # values whole, the check is against a bug); any other cut is refused.
    boundaries = {0}
    for name, value in entries.items():
        boundaries.add(max(boundaries) + len(pack_record({name: value})))
    for cut in {1, len(record) // 2, len(record) - 1} & set(range(1, len(record))) - boundaries:
        with pytest.raises(StateDecodeError, match="corrupt account record"):
            split_record(record[:cut])


def test_the_buckets_of_an_account_agree_and_spread_ids_that_differ_at_the_end() -> None:
    ids = [f"acct-{n:06d}" for n in range(25_000)]
    # A sorted-set bucket is the account bucket modulo its count (the same hash).
    assert all(account_bucket(a) % 256 == sorted_set_bucket(a) for a in ids[:2_000])
    sizes = list(Counter(map(account_bucket, ids)).values())
    assert len(sizes) == 1024 and max(sizes) < 50


def test_a_field_name_a_record_cannot_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="only m, p and s:<model>"):
        record_name("new-business")


def test_a_record_with_an_entry_name_no_version_writes_is_refused() -> None:
    # A later version's kind of entry stops this one rather than being skipped.
    with pytest.raises(StateDecodeError, match="entry name 0x78"):
        split_record(b"m\x01m" + b"x\x01x")


def test_two_models_whose_record_names_collide_are_refused() -> None:
    check_record_names(["new-business", "expansion", "new-business"])
    assert record_name("s:model-jfbyvmzc") == record_name("s:model-rckbayzc")
    with pytest.raises(ValueError, match="share the record name"):
        check_record_names(["model-jfbyvmzc", "model-rckbayzc"])


# Ids the loader accepts, and never two whose record names collide (check_record_names refuses
# such a set of models before anything is written).
model_ids = st.from_regex(MODEL_ID, fullmatch=True)


@given(
    st.none() | st.binary(max_size=300),
    st.lists(
        st.tuples(model_ids, st.binary(max_size=300)),
        max_size=5,
        unique_by=lambda m: record_name(f"s:{m[0]}"),
    ),
)
def test_an_account_record_of_a_dumped_state_is_the_record_of_its_fields(
    meta: bytes | None, model_blobs: list[tuple[str, bytes]]
) -> None:
    fields = {} if meta is None else {"m": meta}
    fields.update((f"s:{model}", blob) for model, blob in model_blobs)

    record = pack_account_record(meta, model_blobs)

    assert record == pack_record({record_name(name): value for name, value in fields.items()})
    names = [b"m"] * (meta is not None) + [record_name(f"s:{m}") for m, _ in model_blobs]
    assert list(split_record(record)) == names  # the meta first, then the models as given
