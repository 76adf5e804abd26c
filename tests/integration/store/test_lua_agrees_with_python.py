"""The layout's two homes agree: the Lua fragments the scripts call (`lua/buckets.lua`,
`lua/record.lua`), run in the real Redis, and `streams.store.records`, on the same cases."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring.state import StateDecodeError
from streams.store.records import (
    ACCOUNT_BUCKETS,
    SORTED_SET_BUCKETS,
    account_bucket,
    name_hash,
    pack_record,
    sorted_set_bucket,
    split_record,
)
from streams.store.scripts import lua_source

pytestmark = pytest.mark.redis

# One EVAL per example, the fixture's client shared by them all (EVAL writes no key).
redis_examples = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

BUCKETS = lua_source(
    ("buckets",),
    """
local out = {}
for i = 1, #ARGV do
  out[#out + 1] = name_hash(ARGV[i])
  out[#out + 1] = bucket(ARGV[i])
  out[#out + 1] = account_bucket(ARGV[i])
end
return out
""",
)

# ARGV: the stored record, the written entries, then the names written. The merged record, or
# nil (false) where `merged_record` refuses the stored one.
MERGE = lua_source(
    ("record",),
    """
local names = {}
for i = 3, #ARGV do
  names[ARGV[i]] = true
end
return merged_record(ARGV[1], names, ARGV[2]) or false
""",
)


async def eval_lua(client: aioredis.Redis, source: str, args: list[bytes | str]) -> object:
    return await client.eval(source, 0, *args)


ids = st.text(max_size=40) | st.sampled_from(["", "acct-000001", "ünï:{cöde} 7", "日本"])


@redis_examples
@given(st.lists(ids, min_size=1, max_size=40))
async def test_lua_names_the_buckets_python_names(redis_client, account_ids: list[str]) -> None:
    client, _ = redis_client

    reply = await eval_lua(client, BUCKETS, list(account_ids))

    expected = []
    for account_id in account_ids:
        expected += [
            name_hash(account_id),
            sorted_set_bucket(account_id),
            account_bucket(account_id),
        ]
    assert reply == expected


@redis_examples
@given(st.lists(st.binary(max_size=60), min_size=1, max_size=40))
async def test_lua_hashes_any_bytes_as_python_does(redis_client, names: list[bytes]) -> None:
    client, _ = redis_client

    reply = await eval_lua(client, BUCKETS, list(names))

    hashes = [name_hash(name) for name in names]
    assert reply[0::3] == hashes
    assert reply[1::3] == [h % SORTED_SET_BUCKETS for h in hashes]
    assert reply[2::3] == [h % ACCOUNT_BUCKETS for h in hashes]


entry_names = st.sampled_from([b"m", b"p"]) | st.binary(min_size=4, max_size=4).map(
    lambda code: b"s" + code
)
# Lengths of one, two and three varint bytes, and those at the edges between.
lengths = st.integers(0, 20_000) | st.sampled_from([127, 128, 16_383, 16_384])
values = st.binary(max_size=300) | lengths.map(lambda n: bytes([n % 251]) * n)
VALID_NAMES = {b"m"[0], b"p"[0], b"s"[0]}


@st.composite
def stored_records(draw: st.DrawFn) -> bytes:
    """A record as written, or one damaged: cut, a byte changed, an entry of a name no version
    writes, or bytes of any kind."""
    record = pack_record(draw(st.dictionaries(entry_names, values, max_size=5)))
    damage = draw(st.sampled_from(["none", "cut", "byte", "name", "any"]))
    if damage == "name":
        unknown = draw(st.integers(0, 255).filter(lambda tag: tag not in VALID_NAMES))
        return record + bytes([unknown]) + pack_record({b"m": draw(values)})[1:]
    if damage == "cut" and record:
        return record[: draw(st.integers(0, len(record) - 1))]
    if damage == "byte" and record:
        at = draw(st.integers(0, len(record) - 1))
        return record[:at] + bytes([draw(st.integers(0, 255))]) + record[at + 1 :]
    if damage == "any":
        return draw(st.binary(max_size=80))
    return record


@redis_examples
@given(
    stored_records(),
    st.dictionaries(entry_names, st.binary(max_size=40), max_size=3),
    st.lists(entry_names, max_size=3),
)
async def test_lua_parses_and_merges_a_record_as_python_does(
    redis_client, stored: bytes, written: dict[bytes, bytes], also_named: list[bytes]
) -> None:
    # The commit merges the entries it writes into the stored record: the stored entries it does
    # not name stay, in order, and the written ones follow.
    client, _ = redis_client
    names = [*written, *also_named]  # a name written or only named: either way replaced
    packed = pack_record(written)

    merged = await eval_lua(client, MERGE, [stored, packed, *names])

    try:
        entries = split_record(stored)
    except StateDecodeError:
        assert merged is None  # refused by both
        return
    kept = {name: value for name, value in entries.items() if name not in names}
    assert merged is not None
    if len(pack_record(entries)) == len(stored):  # no name twice: the very bytes
        assert merged == pack_record(kept) + packed
    else:  # an entry twice (a damaged record): the last one counts, in both readings
        assert list(split_record(merged).items()) == [*kept.items(), *written.items()]
