"""The Redis state layer against the real Redis: fence, offsets, atomic batch, outbox, schedule."""

from __future__ import annotations

import pytest

from streams.state_store import (
    AccountWrite,
    AlreadyApplied,
    Committed,
    Fenced,
    PartitionKeys,
    StateStore,
)

pytestmark = pytest.mark.redis


async def test_commit_writes_states_offset_outbox_and_schedule_together(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(3)

    result = await store.commit(
        3,
        token,
        41,
        [AccountWrite("acme", {"m": b"meta", "new-business": b"\x01\x02"}), AccountWrite("beta")],
        [b"change-1", b"change-2"],
        {"acme": 1_700_000_000.5, "beta": None},
    )

    assert result == Committed()
    assert await store.applied_offset(3) == 41
    accounts = await store.read_accounts(3, ["acme", "beta"])
    assert accounts == {"acme": {b"m": b"meta", b"new-business": b"\x01\x02"}, "beta": {}}
    assert await store.outbox(3) == [b"change-1", b"change-2"]
    assert await store.due_accounts(3, until=1_700_000_000.5) == ["acme"]
    assert await store.due_accounts(3, until=1_700_000_000.4) == []


async def test_a_worker_that_lost_the_fence_cannot_write(redis_client) -> None:
    client, prefix = redis_client
    old, new = StateStore(client, prefix), StateStore(client, prefix)
    old_token = await old.take_fence(0)
    new_token = await new.take_fence(0)

    stale = await old.commit(0, old_token, 5, [AccountWrite("acme", {"m": b"old"})], [b"x"], {})

    assert stale == Fenced()
    assert await old.applied_offset(0) == -1
    assert await old.read_accounts(0, ["acme"]) == {"acme": {}}
    assert await old.outbox(0) == []
    assert await new.commit(0, new_token, 5, [AccountWrite("acme", {"m": b"new"})], [], {}) == (
        Committed()
    )
    assert not await old.clear_outbox(0, old_token, 1)


async def test_a_batch_at_or_behind_the_applied_offset_is_not_applied_twice(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(1)
    assert await store.commit(1, token, 10, [AccountWrite("a", {"m": b"1"})], [], {}) == Committed()

    again = await store.commit(1, token, 10, [AccountWrite("a", {"m": b"2"})], [b"dup"], {})

    assert again == AlreadyApplied()
    assert await store.read_accounts(1, ["a"]) == {"a": {b"m": b"1"}}
    assert await store.outbox(1) == []


async def test_a_write_without_offset_is_fenced_but_leaves_the_offset(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(2)
    await store.commit(2, token, 7, [], [], {})

    result = await store.commit(2, token, None, [AccountWrite("a", {"m": b"swept"})], [b"c"], {})

    assert result == Committed()
    assert await store.applied_offset(2) == 7
    assert await store.outbox(2) == [b"c"]


async def test_outbox_is_cleared_only_up_to_what_was_acknowledged(redis_client) -> None:
    client, prefix = redis_client
    store = StateStore(client, prefix)
    token = await store.take_fence(0)
    await store.commit(0, token, 1, [], [b"c1", b"c2", b"c3"], {})

    assert await store.clear_outbox(0, token, 2)

    assert await store.outbox(0) == [b"c3"]


def test_every_key_of_a_partition_shares_one_cluster_hash_tag() -> None:
    keys = PartitionKeys("scorer", 7)
    all_keys = [keys.fence, keys.offset, keys.outbox, keys.due, keys.account("acme:{odd}")]
    # Redis Cluster hashes only the text of the first {...} of a key.
    assert {key[key.index("{") + 1 : key.index("}")] for key in all_keys} == {"scorer:p7"}
