"""The Redis state layer against the real Redis, the commit: states, offset, outbox and schedule
written together, numbers and binary values kept exact, the fence that stops a worker that lost it,
batches at or behind the applied offset, writes without offset, clearing the outbox, and a corrupt
stored record failing the commit before it writes.
"""

from __future__ import annotations

import pytest
import redis

from scoring.state import StateDecodeError
from streams.store.commit import AccountWrite, AlreadyApplied, Committed, Fenced, Rank
from streams.store.records import account_bucket, sorted_set_bucket
from streams.store.state_store import StateStore
from tests.integration.store.stored_accounts import stored

pytestmark = pytest.mark.redis


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
