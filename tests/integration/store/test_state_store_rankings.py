"""The Redis state layer against the real Redis, rankings and the due schedule: each account in the
set of its tier, totals rounded down to a sixteenth, compact buckets named alike by Lua and Python,
top, due and counts reading every bucket (ties included), the due query starting from a random
bucket, and the top skipping a tier whose ceiling the best already reach.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from streams.store.commit import Rank
from streams.store.records import sorted_set_bucket
from streams.store.state_store import StateStore

pytestmark = pytest.mark.redis


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
