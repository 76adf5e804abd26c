"""What the pipeline remembers of a partition between batches (its applied offsets and its
outbox), against the real Redis: trusted only under the token it was learnt with (a new token
rereads the offset: tests/integration/test_pipeline_cache.py), and forgotten whenever a call to
Redis ends without an answer."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from streams.runtime.messages import Destination, Incoming
from streams.store.commit import CommitResult
from streams.store.state_store import StateStore
from tests.integration.test_pipeline_cache import (
    NOW,
    PARTITION,
    Recording,
    make_pipeline,
    message,
    view,
)

pytestmark = pytest.mark.redis


def not_json(offset: int) -> Incoming:
    """A message that becomes a dead letter: the outbox always gets an entry for it."""
    return Incoming("events", PARTITION, offset, b"acme", b"{not json", NOW)


async def outbox_in_redis(client: object, prefix: str) -> list[bytes]:
    return await StateStore(client, prefix).outbox(PARTITION)  # type: ignore[arg-type]


async def test_the_outbox_is_published_once_and_left_empty(redis_client) -> None:
    client, prefix = redis_client
    pipeline = make_pipeline(client, prefix, 100)
    publisher = Recording()
    pipeline.publisher = publisher
    token = await pipeline.store.take_fence(PARTITION)

    for batch in range(3):
        await pipeline.events_batch(
            PARTITION, token, [not_json(2 * batch), view(2 * batch + 1, batch)], NOW
        )
        await pipeline.publish_outbox(PARTITION, token)

    dead = [m for m in publisher.sent if m.destination is Destination.DEAD_LETTERS]
    offsets = [dict(m.headers)["scorer.source.offset"] for m in dead]
    assert offsets == [b"0", b"2", b"4"]
    assert await outbox_in_redis(client, prefix) == []


async def test_a_commit_whose_reply_is_lost_is_neither_applied_again_nor_left_unpublished(
    redis_client,
) -> None:
    client, prefix = redis_client
    pipeline = make_pipeline(client, prefix, 100)
    publisher = Recording()
    pipeline.publisher = publisher
    token = await pipeline.store.take_fence(PARTITION)
    await pipeline.events_batch(PARTITION, token, [view(0, 0)], NOW)
    await pipeline.publish_outbox(PARTITION, token)
    publisher.sent.clear()

    # Redis runs the commit, then the connection drops before its reply arrives.
    real_commit = pipeline.store.commit_batch

    async def reply_lost(*args: object, **kwargs: object) -> CommitResult:
        await real_commit(*args, **kwargs)  # type: ignore[arg-type]
        raise RedisConnectionError("connection lost before the reply")

    pipeline.store.commit_batch = reply_lost  # type: ignore[method-assign]
    batch = [not_json(1), view(2, 1)]
    with pytest.raises(RedisConnectionError):
        await pipeline.events_batch(PARTITION, token, batch, NOW)
    pipeline.store.commit_batch = real_commit  # type: ignore[method-assign]
    written = await outbox_in_redis(client, prefix)

    retried = await pipeline.events_batch(PARTITION, token, batch, NOW)  # the worker retries
    await pipeline.publish_outbox(PARTITION, token)

    assert (retried.skipped, retried.applied) == (2, 0)
    assert len(written) >= 1
    assert [m.encode() for m in publisher.sent] == written
    assert await outbox_in_redis(client, prefix) == []


async def test_a_fenced_worker_leaves_what_it_remembered_to_the_new_owner(redis_client) -> None:
    client, prefix = redis_client
    pipeline = make_pipeline(client, prefix, 100)
    pipeline.publisher = Recording()
    token = await pipeline.store.take_fence(PARTITION)
    await pipeline.publish_outbox(PARTITION, token)  # read empty: remembered from now on
    await pipeline.events_batch(PARTITION, token, [not_json(0)], NOW)

    other = await StateStore(client, prefix).take_fence(PARTITION)  # another worker takes over
    # Sent (at least once is the contract) but not trimmed: the fence says no.
    assert await pipeline.publish_outbox(PARTITION, token) == 0
    report = await pipeline.events_batch(PARTITION, token, [message(1, {})], NOW)
    assert report.fenced

    successor = make_pipeline(client, prefix, 100)
    publisher = Recording()
    successor.publisher = publisher
    assert await successor.publish_outbox(PARTITION, other) == 1
    assert [m.destination for m in publisher.sent] == [Destination.DEAD_LETTERS]
    assert await outbox_in_redis(client, prefix) == []
