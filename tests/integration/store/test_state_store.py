"""The Redis state layer against the real Redis: fence, offsets, atomic batch, outbox, schedule."""

from __future__ import annotations

import random
from collections import Counter

import pytest
import redis

from scoring.state import StateDecodeError
from streams.store.commit import AccountWrite, AlreadyApplied, Committed, Fenced, Rank
from streams.store.keys import PartitionKeys
from streams.store.records import account_bucket, record_name, sorted_set_bucket, split_record
from streams.store.state_store import StateStore

pytestmark = pytest.mark.redis


# The field names these tests write, by the name their records keep them under.
FIELD_NAMES = {record_name(f): f.encode() for f in ("m", "p", "s:nb", "s:old", "s:new-business")}


async def stored(
    store: StateStore, partition: int, account_ids: list[str]
) -> dict[str, dict[bytes, bytes]]:
    """Every entry of the accounts' records, by field name, as Redis holds them."""
    keys = store.keys(partition)
    out = {}
    for a in account_ids:
        record = await store.client.hget(keys.account_hash(account_bucket(a)), a)
        entries = {} if record is None else split_record(record)
        out[a] = {FIELD_NAMES[name]: value for name, value in entries.items()}
    return out


async def test_commit_writes_states_offset_outbox_and_schedule_together(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(3)

    result = await store.commit(
        3,
        token,
        "events",
        41,
        [AccountWrite("acme", {"m": b"meta", "s:new-business": b"\x01\x02"}), AccountWrite("beta")],
        [b"change-1", b"change-2"],
        {"acme": 1_700_000_000.5, "beta": None},
    )

    assert result == Committed()
    assert await store.applied_offset(3, "events") == 41
    accounts = await stored(store, 3, ["acme", "beta"])
    assert accounts == {"acme": {b"m": b"meta", b"s:new-business": b"\x01\x02"}, "beta": {}}
    assert await store.outbox(3) == [b"change-1", b"change-2"]
    assert await store.due_accounts(3, until=1_700_000_000.5) == ["acme"]
    assert await store.due_accounts(3, until=1_700_000_000.4) == []


async def test_commit_keeps_numbers_exact_binary_values_whole_and_any_account_or_prefix(
    redis_client,
) -> None:
    # The commit packs numbers and values into a few strings per batch: nothing may be rounded,
    # cut at a zero byte or confused between accounts, including ones it ranks but not writes.
    # The script takes a written account's id from its key, cutting the prefix by its bytes.
    client, prefix = redis_client
    store = StateStore(client, f"{prefix}-präfix")
    token = await store.take_fence(6)
    odd = "ünï:{cöde} 7"
    blob = bytes(range(256)) * 3
    tiers = ("hot", "cold")
    await store.commit(
        6,
        token,
        "events",
        1,
        [AccountWrite(odd, {"m": b"", "s:nb": blob}), AccountWrite("plain", {"m": b"\x00"})],
        [],
        {odd: 0.1 + 0.2, "plain": -86_400.25, "ranked-only": 1e-300},
        [
            Rank("ranked-only", "nb", tiers, "hot", 1 / 3),
            Rank(odd, "nb", tiers, "cold", 2 / 3, "cold"),
        ],
    )

    assert await stored(store, 6, [odd, "plain"]) == {
        odd: {b"m": b"", b"s:nb": blob},
        "plain": {b"m": b"\x00"},
    }
    keys = store.keys(6)
    due = {a: await client.zscore(keys.due(sorted_set_bucket(a)), a) for a in ("plain", odd)}
    assert due == {"plain": -86_400.25, odd: 0.1 + 0.2}
    assert sorted(await store.due_accounts(6, until=1.0)) == sorted(["plain", "ranked-only", odd])
    # The one number rounded on purpose: a ranking's total, down to 1/16 point.
    assert await store.top([6], "nb", list(tiers), 10) == [(odd, 0.625), ("ranked-only", 0.3125)]

    # What it cannot store is refused, not written wrong.
    with pytest.raises(ValueError, match="NaN"):
        await store.commit(6, token, "events", 2, [], [], {"plain": float("nan")})
    many = tuple(f"t{i}" for i in range(255))
    with pytest.raises(ValueError, match="255 tiers"):
        await store.commit(6, token, "events", 2, [], [], {}, [Rank("a", "nb", many, "t0", 1.0)])


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


async def test_a_worker_that_lost_the_fence_cannot_write(redis_client) -> None:
    client, prefix = redis_client
    old, new = StateStore(client, prefix), StateStore(client, prefix)
    old_token = await old.take_fence(0)
    new_token = await new.take_fence(0)

    stale = await old.commit(
        0, old_token, "events", 5, [AccountWrite("acme", {"m": b"old"})], [b"x"], {}
    )

    assert stale == Fenced()
    assert await old.applied_offset(0, "events") == -1
    assert await stored(old, 0, ["acme"]) == {"acme": {}}
    assert await old.outbox(0) == []
    assert await new.commit(
        0, new_token, "events", 5, [AccountWrite("acme", {"m": b"new"})], [], {}
    ) == (Committed())
    assert not await old.clear_outbox(0, old_token, 1)


async def test_a_batch_at_or_behind_the_applied_offset_is_not_applied_twice(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(1)
    assert (
        await store.commit(1, token, "events", 10, [AccountWrite("a", {"m": b"1"})], [], {})
        == Committed()
    )

    again = await store.commit(
        1, token, "events", 10, [AccountWrite("a", {"m": b"2"})], [b"dup"], {}
    )

    assert again == AlreadyApplied()
    assert await stored(store, 1, ["a"]) == {"a": {b"m": b"1"}}
    assert await store.outbox(1) == []


async def test_a_write_without_offset_is_fenced_but_leaves_the_offset(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(2)
    await store.commit(2, token, "events", 7, [], [], {})

    result = await store.commit(
        2, token, "events", None, [AccountWrite("a", {"m": b"swept"})], [b"c"], {}
    )

    assert result == Committed()
    assert await store.applied_offset(2, "events") == 7
    assert await store.outbox(2) == [b"c"]


async def test_outbox_is_cleared_only_up_to_what_was_acknowledged(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(0)
    await store.commit(0, token, "events", 1, [], [b"c1", b"c2", b"c3"], {})

    assert await store.clear_outbox(0, token, 2)

    assert await store.outbox(0) == [b"c3"]


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


async def test_ranking_keeps_each_account_in_the_set_of_its_current_tier(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(0)
    tiers = ("hot", "warm", "cold")
    await store.commit(
        0,
        token,
        "events",
        1,
        [],
        [],
        {},
        [
            Rank("a", "nb", tiers, "warm", 55.0),
            Rank("b", "nb", tiers, "hot", 80.0),
            Rank("c", "nb", tiers, "warm", 45.0),
        ],
    )
    await store.commit(0, token, "events", 2, [], [], {}, [Rank("a", "nb", tiers, "hot", 71.5)])

    assert await store.top([0], "nb", ["hot"], 10) == [("b", 80.0), ("a", 71.5)]
    assert await store.top([0], "nb", list(tiers), 2) == [("b", 80.0), ("a", 71.5)]
    assert await store.tier_counts([0], "nb", list(tiers)) == {"hot": 2, "warm": 1, "cold": 0}

    # Knowing the set that holds it, only that set and the new one are touched.
    await store.commit(
        0, token, "events", 3, [], [], {}, [Rank("b", "nb", tiers, "cold", 9.0, "hot")]
    )
    assert await store.tier_counts([0], "nb", list(tiers)) == {"hot": 1, "warm": 1, "cold": 1}
    assert await store.top([0], "nb", ["cold"], 10) == [("b", 9.0)]


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


@pytest.mark.parametrize(
    ("total", "ranked"),
    [
        (69.54795930477488, 69.5),
        (49.99999999999999, 49.9375),  # stays below a tier's min of 50
        (50.0, 50.0),
        (-0.01, -0.0625),
        (1e-300, 0.0),
        (12.0625, 12.0625),
    ],
)
async def test_a_ranking_keeps_its_total_rounded_down_to_a_sixteenth(
    redis_client, total: float, ranked: float
) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(3)
    await store.commit(3, token, "events", 1, [], [], {}, [Rank("a", "nb", ("t",), "t", total)])

    key = store.keys(3).ranking("nb", "t", sorted_set_bucket("a"))
    assert await client.zscore(key, "a") == ranked
    # Redis writes a score as its shortest exact digits (%.17g), in its replies and its
    # listpacks alike: a sixteenth takes at most 4 decimals where a double takes 17 digits.
    script = "return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')"  # the score as text
    _, score = await client.eval(script, 1, key)
    assert len(score) <= len(str(int(abs(ranked)))) + 6


async def test_due_and_ranking_sets_are_compact_buckets_named_alike_by_lua_and_python(
    redis_client,
) -> None:
    # The commit script names an account's bucket itself; the queries read every bucket. Both
    # must agree with `sorted_set_bucket`, byte for byte of the id (any text).
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(1)
    tiers = ("hot", "cold")
    accounts = [f"acct-{n:06d}" for n in range(3_000)] + ["ünï:{cöde} 7", "日本"]
    await store.commit(
        1,
        token,
        "events",
        1,
        [],
        [],
        {a: 1_000.0 + n for n, a in enumerate(accounts)},
        [Rank(a, "nb", tiers, "cold", float(n)) for n, a in enumerate(accounts)],
    )

    keys = store.keys(1)
    for a in accounts[::97] + accounts[-2:]:
        bucket = sorted_set_bucket(a)
        assert await client.zscore(keys.ranking("nb", "cold", bucket), a) is not None
        assert await client.zscore(keys.due(bucket), a) is not None
    buckets = {sorted_set_bucket(a) for a in accounts}
    assert len(buckets) > 250  # of 256: spread
    for bucket in list(buckets)[:10]:
        assert await client.object("encoding", keys.ranking("nb", "cold", bucket)) == b"listpack"
        assert await client.object("encoding", keys.due(bucket)) == b"listpack"


async def test_top_due_and_counts_read_every_bucket(redis_client) -> None:
    # The top keeps the best `limit` as it reads the buckets and then reads only above them: the
    # answer must be the brute-force one, ties included. The due query takes any `limit`.
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(2)
    tiers = ("hot", "warm", "cold")
    accounts = [f"a{n}" for n in range(2_000)]
    totals = {a: float((n * 7919) % 1_000) / 8 for n, a in enumerate(accounts)}  # with ties
    tier_of = {a: tiers[n % 3] for n, a in enumerate(accounts)}
    due = {a: float((n * 104_729) % 5_000) for n, a in enumerate(accounts)}
    await store.commit(
        2,
        token,
        "events",
        1,
        [],
        [],
        due,
        [Rank(a, "nb", tiers, tier_of[a], totals[a]) for a in accounts],
    )

    def best(among: list[str], limit: int) -> list[tuple[str, float]]:
        ranked = sorted(((a, totals[a]) for a in among), key=lambda item: (-item[1], item[0]))
        return ranked[:limit]

    assert await store.top([2], "nb", list(tiers), 25) == best(accounts, 25)
    warm = [a for a in accounts if tier_of[a] == "warm"]
    assert await store.top([2], "nb", ["warm"], 40) == best(warm, 40)
    assert await store.top([2], "nb", ["hot", "warm"], 5_000) == best(
        [a for a in accounts if tier_of[a] != "cold"], 5_000
    )
    due_by_then = {a for a, t in due.items() if t <= 2_500.0}
    some = await store.due_accounts(2, until=2_500.0, limit=30)
    assert len(set(some)) == len(some) == 30 and set(some) <= due_by_then
    every = await store.due_accounts(2, until=2_500.0, limit=5_000)
    assert len(every) == len(due_by_then) and set(every) == due_by_then
    assert await store.tier_counts([2], "nb", list(tiers)) == dict(Counter(tier_of.values()))


async def test_top_keeps_the_right_members_of_a_tie_cut_at_the_limit(redis_client) -> None:
    # Buckets of ~20 accounts and five totals: every bucket's reply is cut inside a tie, which
    # Redis orders backwards.
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(5)
    tiers = ("hot", "cold")
    accounts = [f"t{n}" for n in range(5_000)]
    totals = {a: float(n % 5) for n, a in enumerate(accounts)}
    await store.commit(
        5,
        token,
        "events",
        1,
        [],
        [],
        {a: 100.0 + totals[a] for a in accounts},
        [Rank(a, "nb", tiers, "cold", totals[a]) for a in accounts],
    )

    by_total = sorted(accounts, key=lambda a: (-totals[a], a))
    assert await store.top([5], "nb", list(tiers), 7) == [(a, 4.0) for a in by_total[:7]]
    assert await store.top([5], "nb", list(tiers), 0) == []
    assert await store.due_accounts(5, until=1_000.0, limit=0) == []


async def test_the_due_query_starts_from_a_random_bucket_so_none_waits_behind_the_first(
    redis_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(7)
    accounts = [f"d{n}" for n in range(3_000)]
    await store.commit(7, token, "events", 1, [], [], dict.fromkeys(accounts, 10.0))

    monkeypatch.setattr(random, "randrange", lambda n: n - 6)
    taken = await store.due_accounts(7, until=10.0, limit=100)

    # From the sixth-last bucket on, wrapping around to the first.
    buckets = [sorted_set_bucket(a) for a in taken]
    assert len(taken) == 100 and buckets == sorted(buckets, key=lambda b: (b < 250, b))
    assert buckets[0] == 250 and buckets[-1] < 250


async def test_the_top_skips_a_tier_whose_ceiling_the_best_reach_once_rescored(
    redis_client,
) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(1)
    tiers = ("hot", "cold")
    ranks = [Rank(f"h{n}", "nb", tiers, "hot", 70.0 + n) for n in range(5)]
    # Every cold account stays below the hot tier's min (70), but this one breaks the bound (as
    # one ranked under an earlier model version may): it shows whether the tier was read.
    ranks += [Rank("c1", "nb", tiers, "cold", 10.0), Rank("odd", "nb", tiers, "cold", 95.0)]
    await store.commit(1, token, "events", 1, [], [], {}, ranks)
    ceilings = [None, 70.0]
    best_hot = [(f"h{n}", 70.0 + n) for n in range(4, -1, -1)]

    # Not yet rescored to the versions the ceilings hold for: every tier is read.
    assert await store.top([1], "nb", list(tiers), 5, ceilings, "nb:2") == [
        ("odd", 95.0),
        *best_hot[:4],
    ]
    await store.mark_rescored(1, "nb:2")
    # The fifth best (70) reaches the cold tier's ceiling (70): not read.
    assert await store.top([1], "nb", list(tiers), 5, ceilings, "nb:2") == best_hot
    assert await store.top([1], "nb", list(tiers), 4, ceilings, "nb:2") == best_hot[:4]
    # Without ceilings, or with fewer than `limit` above it, the tier is read.
    assert await store.top([1], "nb", list(tiers), 5) == [("odd", 95.0), *best_hot[:4]]
    every = await store.top([1], "nb", list(tiers), 7, ceilings, "nb:2")
    assert every == [("odd", 95.0), *best_hot, ("c1", 10.0)]


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


@pytest.mark.parametrize(
    "record",
    [b"m\x05me", b"m\x01m" + b"x\x01x", b"s\x00\x00"],
    ids=["cut short", "an entry name no version writes", "a model name cut short"],
)
async def test_a_corrupt_stored_record_fails_the_commit_before_it_writes_anything(
    redis_client, record: bytes
) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(3)
    keys = store.keys(3)
    await client.hset(keys.account_hash(account_bucket("bad")), "bad", record)
    writes = [AccountWrite("good", {"m": b"1"}), AccountWrite("bad", {"m": b"2"})]

    with pytest.raises(redis.exceptions.ResponseError, match="corrupt account record: bad"):
        await store.commit(3, token, "events", 7, writes, [b"change"], {"good": 1.0})

    assert await store.applied_offset(3, "events") == -1
    assert await stored(store, 3, ["good"]) == {"good": {}}
    assert await store.outbox(3) == []
    with pytest.raises(StateDecodeError, match="corrupt account record"):
        await store.read_fields(3, ["bad"], ["m"])
