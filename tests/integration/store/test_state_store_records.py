"""The Redis state layer against the real Redis, account records and keys: reading fields by
position, merging a commit into the stored record, accounts of different fields or written twice in
one commit, compact hashes shared by many accounts, the cluster hash tag of a partition, the domain
map and the walk over every account.
"""

from __future__ import annotations

import pytest

from streams.store.commit import AccountWrite, Committed, Rank
from streams.store.keys import PartitionKeys
from streams.store.records import account_bucket
from streams.store.state_store import StateStore
from tests.integration.store.stored_accounts import stored

pytestmark = pytest.mark.redis


async def test_read_fields_gives_the_named_fields_by_position(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(2)
    writes = [AccountWrite("acme", {"m": b"meta", "s:nb": b"\x00blob", "s:old": b"gone"})]
    assert await store.commit(2, token, "events", None, writes, [], {}) == Committed()

    read = await store.read_fields(2, ["acme", "nobody"], ["s:nb", "p", "m"])

    assert read == [[b"\x00blob", None, b"meta"], [None, None, None]]
    assert await store.read_fields(2, [], ["m"]) == []
    assert await store.read_fields(2, ["acme"], []) == [[]]


def test_every_key_of_a_partition_shares_one_cluster_hash_tag() -> None:
    keys = PartitionKeys("scorer", 7)
    all_keys = [
        keys.fence,
        keys.offset("events"),
        keys.outbox,
        keys.due(0),
        keys.ranking("nb", "hot", 255),
        keys.account_hash(1023),
        keys.versions,
    ]
    # Redis Cluster hashes only the text of the first {...} of a key.
    assert {key[key.index("{") + 1 : key.index("}")] for key in all_keys} == {"scorer:p7"}


async def test_domains_resolve_to_the_account_that_named_them(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    await store.remember_domains({"acme.com": "acme", "acme.io": "acme"})

    assert await store.resolve_domains(["acme.io", "unknown.org"]) == {"acme.io": "acme"}


async def test_the_domain_map_shares_compact_hashes_among_many_domains(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    named = {f"site{n}.example": f"acct-{n % 700:06d}" for n in range(12_000)}
    await store.remember_domains(named)

    asked = [*named, "unknown.org", "site7.example"]  # a duplicate is answered once
    assert await store.resolve_domains(asked) == named
    keys = {store.domain_bucket(d) for d in named}
    assert len(keys) < len(named) / 2
    assert await client.exists(*keys) == len(keys)
    for key in list(keys)[:20]:
        # Redis Cluster hashes only the text of the first {...}: each hash has a tag of its own.
        assert key.startswith("{") and key.index("}") == len(key) - 1
        assert await client.object("encoding", key) == b"listpack"


async def test_one_commit_writes_accounts_of_different_fields_and_ranks_of_several_models(
    redis_client,
) -> None:
    # The commit sends each set of field names and each model's rank keys once per batch: a
    # batch mixing them must still put every value in its own place.
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(4)
    nb, expansion = ("hot", "warm", "cold"), ("grow", "keep")
    await store.commit(
        4,
        token,
        "profiles",
        9,
        [
            AccountWrite("a", {"m": b"ma", "p": b"pa", "s:nb": b"na"}),
            AccountWrite("b", {"m": b"mb", "s:nb": b"nb"}),
            AccountWrite("c", {"m": b"mc", "p": b"pc", "s:nb": b"nc"}),
            AccountWrite("d"),
        ],
        [],
        {},
        [
            Rank("a", "nb", nb, "warm", 50.0),
            Rank("a", "expansion", expansion, "keep", 5.0),
            Rank("b", "nb", nb, "hot", 90.0, "cold"),
            Rank("b", "expansion", expansion, "grow", 70.0),
        ],
    )

    assert await stored(store, 4, ["a", "b", "c", "d"]) == {
        "a": {b"m": b"ma", b"p": b"pa", b"s:nb": b"na"},
        "b": {b"m": b"mb", b"s:nb": b"nb"},
        "c": {b"m": b"mc", b"p": b"pc", b"s:nb": b"nc"},
        "d": {},
    }
    assert await store.top([4], "nb", list(nb), 10) == [("b", 90.0), ("a", 50.0)]
    assert await store.tier_counts([4], "nb", list(nb)) == {"hot": 1, "warm": 1, "cold": 0}
    assert await store.top([4], "expansion", ["grow"], 10) == [("b", 70.0)]
    assert await store.top([4], "expansion", ["keep"], 10) == [("a", 5.0)]


async def test_one_walk_lists_the_accounts_of_every_partition_with_their_partition(
    redis_client,
) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    for partition, accounts in ((5, ["x", "y"]), (12, ["z"])):
        token = await store.take_fence(partition)
        writes = [AccountWrite(a, {"m": b"1"}) for a in accounts]
        await store.commit(partition, token, "events", 1, writes, [], {})
    # Keys of another prefix, and of this one that are no account, are not listed.
    await client.hset(f"{{{prefix}x:p5}}:accounts:3", "other", b"1")
    await client.hset(f"{{{prefix}:p5}}:accounts:x", "other", b"1")
    await client.set(f"{{{prefix}:p5}}:offset:events", 1)
    cursor, found = 0, []
    while True:
        cursor, ids = await store.account_ids(cursor, 100)
        found.extend(ids)
        if cursor == 0:
            break

    assert sorted(found) == [(5, "x"), (5, "y"), (12, "z")]


async def test_a_commit_merges_into_the_stored_record_and_keeps_what_it_does_not_name(
    redis_client,
) -> None:
    # The Lua side of the record: varints of one to three bytes, entries merged by name.
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(1)
    big = bytes(range(256)) * 80  # 20,480 B: a three-byte length
    first = [AccountWrite("acme", {"m": b"m1", "p": big, "s:nb": b"n" * 200})]
    # A model's entry (a five-byte name) of each length too, kept and rewritten.
    first.append(AccountWrite("beta", {"s:old": big, "s:nb": b"n" * 200, "m": b"m"}))
    await store.commit(1, token, "profiles", 1, first, [], {})
    await store.commit(1, token, "events", 2, [AccountWrite("acme", {"m": b"m2"})], [], {})
    await store.commit(1, token, "events", 3, [AccountWrite("acme", {"s:old": b""})], [], {})

    assert await stored(store, 1, ["acme"]) == {
        "acme": {b"m": b"m2", b"p": big, b"s:nb": b"n" * 200, b"s:old": b""}
    }
    read = await store.read_fields(1, ["acme"], ["p", "s:nb", "s:old", "m"])
    assert read == [[big, b"n" * 200, b"", b"m2"]]
    await store.commit(1, token, "events", 4, [AccountWrite("beta", {"s:nb": big})], [], {})
    assert await stored(store, 1, ["beta"]) == {"beta": {b"s:old": big, b"m": b"m", b"s:nb": big}}


async def test_an_account_written_twice_in_one_commit_keeps_both_writes(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(1)
    writes = [
        AccountWrite("acme", {"m": b"m1", "s:nb": b"n1"}),
        AccountWrite("other", {"m": b"o"}),
        AccountWrite("acme", {"s:nb": b"n2", "p": b"p2"}),
        AccountWrite("other", {"m": b"o"}),  # the same record again
        AccountWrite("acme", {"m": b"m3"}),
    ]
    await store.commit(1, token, "events", 1, writes, [], {})

    assert await stored(store, 1, ["acme", "other"]) == {
        "acme": {b"s:nb": b"n2", b"p": b"p2", b"m": b"m3"},
        "other": {b"m": b"o"},
    }


async def test_many_accounts_share_one_compact_hash(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(2)
    ids = [f"acct-{n:06d}" for n in range(3_000)]
    writes = [AccountWrite(a, {"m": a.encode(), "s:nb": b"x" * 100}) for a in ids]
    await store.commit(2, token, "events", 1, writes, [], {})

    keys = store.keys(2)
    hashes = {keys.account_hash(account_bucket(a)) for a in ids}
    assert len(hashes) <= 1024 and await client.exists(*hashes) == len(hashes)
    for key in list(hashes)[:20]:
        assert await client.object("encoding", key) == b"listpack"
    read = await store.read_fields(2, ids, ["m"])
    assert read == [[a.encode()] for a in ids]
