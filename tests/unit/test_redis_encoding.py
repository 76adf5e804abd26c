"""How the Redis side encodes what it sends: stored profiles, packed commands and the commit's
packed batches."""

from __future__ import annotations

import dataclasses
import struct

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio.connection import Connection

from scoring.state import StateDecodeError
from streams.state_store import (
    AccountWrite,
    CommitBatch,
    Rank,
    Ranking,
    _HiredisPacking,
    pack_profile,
    unpack_profile,
)

PROFILE = orjson.dumps(
    {
        "account_id": "acct-000042",
        "updated_at": "2026-10-19T11:06:40Z",
        "name": "Acme Group",
        "domains": ["acme.example"],
        "industry": "manufacturing",
        "employees": 2400,
        "annual_revenue": 150000000.0,
        "country": "SE",
        "technologies": ["snowflake", "salesforce", "aws"],
        "owner": {"id": "rep-3", "name": "Lee Novak", "email": "lee@example.com", "slack": "@lee"},
        "customer": False,
        "crm": {"stage": "Qualified", "score": 7},
    }
)


def test_a_stored_profile_round_trips_byte_for_byte_and_is_smaller() -> None:
    stored = pack_profile(PROFILE)

    assert unpack_profile(stored) == PROFILE
    assert len(stored) < 0.6 * len(PROFILE)


def test_a_large_or_unusual_profile_round_trips() -> None:
    raw = orjson.dumps({"account_id": "é" * 3000, "updated_at": "x", "blob": list(range(2000))})

    assert unpack_profile(pack_profile(raw)) == raw


@given(st.binary(max_size=5000) | st.text(max_size=2000).map(str.encode))
def test_any_bytes_round_trip_and_their_stored_form_cut_short_is_refused(raw: bytes) -> None:
    stored = pack_profile(raw)

    assert unpack_profile(stored) == raw
    for cut in range(1, len(stored), max(1, len(stored) // 50)):  # ~50 cuts, evenly spread
        with pytest.raises(StateDecodeError, match="corrupt stored profile: truncated"):
            unpack_profile(stored[:cut])


def test_a_profile_stored_as_plain_json_reads_as_it_is() -> None:
    assert unpack_profile(PROFILE) == PROFILE


@pytest.mark.parametrize(
    "damaged",
    [pack_profile(PROFILE)[:-6], b"\x01\xff\xfe\xfd", b"\x01"],
    ids=["truncated", "garbage", "empty"],
)
def test_a_corrupt_stored_profile_is_a_state_decode_error(damaged: bytes) -> None:
    with pytest.raises(StateDecodeError, match="corrupt stored profile"):
        unpack_profile(damaged)


def test_hiredis_packing_sends_the_same_bytes_as_redis_py() -> None:
    args = ("EVALSHA", "f" * 40, 3, "k1", b"\x00\xffbinary", -1, 1795000000.123456, "é", 10**20)

    fast = b"".join(_HiredisPacking().pack_command(*args))
    reference = b"".join(Connection().pack_command(*args))

    assert fast == reference


def test_a_command_name_with_a_space_is_split_like_redis_py_does() -> None:
    fast = b"".join(_HiredisPacking().pack_command("CONFIG GET", "maxmemory"))

    assert fast == b"".join(Connection().pack_command("CONFIG GET", "maxmemory"))


def test_arguments_hiredis_cannot_take_directly_are_packed_like_redis_py_does() -> None:
    args = ("HSET", b"key", bytearray(b"field"), memoryview(b"value"))

    fast = b"".join(_HiredisPacking().pack_command(*args))

    assert fast == b"".join(Connection().pack_command(*args))


def whole_batch() -> CommitBatch:
    """Two accounts written whole, due and ranked under a two-tier model."""
    ranking = Ranking("nb", ("hot", "cold"), b"\x00\x01", b"\xff\x01", struct.pack("<2d", 9, 1))
    return CommitBatch.whole(
        ["a", "b"],
        ("m",),
        [b"\x01\x00\x00\x00x", b"\x01\x00\x00\x00y"],
        struct.pack("<2d", 5.0, float("nan")),
        [ranking],
    )


def test_a_batch_packed_by_account_equals_the_same_batch_packed_whole() -> None:
    by_account = CommitBatch.of(
        [AccountWrite("a", {"m": b"x"}), AccountWrite("b", {"m": b"y"})],
        {"a": 5.0, "b": None},
        [
            Rank("a", "nb", ("hot", "cold"), "hot", 9.0),
            Rank("b", "nb", ("hot", "cold"), "cold", 1.0, "cold"),
        ],
    )
    whole = whole_batch()
    members = struct.pack("<2I", 1, 2)
    assert by_account.due_members == members
    assert by_account.rankings[0].members == members
    assert dataclasses.replace(
        by_account,
        due_members=None,
        rankings=[dataclasses.replace(by_account.rankings[0], members=None)],
    ) == dataclasses.replace(whole, others=[])
    whole.check()
    by_account.check()


@pytest.mark.parametrize(
    "damage",
    [
        {"records": [b"\x01\x00\x00\x00x"]},
        {"record_shapes": b"\x01\x00"},
        {"record_shapes": b"\x01\x00\x02\x00"},
        {"due_times": struct.pack("<d", 5.0)},
        {"due_members": struct.pack("<2I", 1, 3)},
        {"others": ["c"], "due_members": struct.pack("<I", 4), "due_times": struct.pack("<d", 1)},
    ],
)
def test_a_batch_whose_columns_disagree_is_refused_before_it_is_sent(damage: dict) -> None:
    with pytest.raises(ValueError, match="do not agree"):
        dataclasses.replace(whole_batch(), **damage).check()


@pytest.mark.parametrize(
    "damage",
    [
        {"tier_indexes": b"\x00"},
        {"tier_indexes": b"\x00\x02"},
        {"previous_indexes": b"\xff"},
        {"totals": struct.pack("<d", 9)},
        {"members": struct.pack("<I", 1)},
        {"members": struct.pack("<2I", 1, 0)},
    ],
)
def test_a_ranking_whose_columns_disagree_is_refused_before_it_is_sent(damage: dict) -> None:
    batch = whole_batch()
    ranking = dataclasses.replace(batch.rankings[0], **damage)
    with pytest.raises(ValueError, match="do not agree"):
        dataclasses.replace(batch, rankings=[ranking]).check()
