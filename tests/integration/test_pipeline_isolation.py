"""A message whose handling raises becomes a dead letter `internal_error` and its partition goes
on (`Pipeline._isolated`), against the real Redis; outages and a Redis that refuses every commit
still stop the batch. And nothing goes into the outbox that the producer could not send."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from scoring.decode import decode_event
from scoring.errors import DeadLetterCode
from streams.runtime.messages import Destination, Incoming, fits
from tests.integration.test_pipeline_cache import NOW, PARTITION, Recording, make_pipeline, view

pytestmark = pytest.mark.redis


class FailingOn:
    """The engine, but `apply_event` raises on the events named."""

    def __init__(self, engine: Any, event_ids: set[str]) -> None:
        self._engine = engine
        self._event_ids = event_ids

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def apply_event(self, state: Any, event: Any) -> Any:
        if event.event_id in self._event_ids:
            raise RuntimeError("a bug on this event")
        return self._engine.apply_event(state, event)


async def test_a_message_that_raises_is_a_dead_letter_and_the_rest_is_applied(
    redis_client,
) -> None:
    client, prefix = redis_client
    pipeline = make_pipeline(client, prefix, 0)
    publisher = Recording()
    pipeline.publisher = publisher
    pipeline.engine = FailingOn(pipeline.engine, {"e2"})  # type: ignore[assignment]
    token = await pipeline.store.take_fence(PARTITION)
    batch = [view(offset, offset) for offset in range(5)]

    report = await pipeline.events_batch(PARTITION, token, batch, NOW)
    await pipeline.publish_outbox(PARTITION, token)

    assert (report.applied, report.dead_letters, report.fenced) == (4, 1, False)
    dead = [m for m in publisher.sent if m.destination is Destination.DEAD_LETTERS]
    assert len(dead) == 1 and dead[0].value == batch[2].value
    headers = dict(dead[0].headers)
    assert headers["scorer.error.code"] == DeadLetterCode.INTERNAL_ERROR.encode()
    assert headers["scorer.error.detail"] == b"$: RuntimeError while handling the message"
    assert headers["scorer.source.offset"] == b"2"
    assert await pipeline.store.applied_offset(PARTITION, "events") == 4
    state = (await pipeline.load(PARTITION, ["acme"]))["acme"]
    assert state.clock == max(decode_event(m.value).occurred_at for m in batch)  # type: ignore[union-attr]

    again = await pipeline.events_batch(PARTITION, token, batch, NOW)
    assert (again.skipped, again.applied, again.dead_letters) == (5, 0, 0)


async def test_an_outage_is_not_a_dead_letter(redis_client) -> None:
    client, prefix = redis_client
    pipeline = make_pipeline(client, prefix, 0)
    token = await pipeline.store.take_fence(PARTITION)

    async def away(*_: object, **__: object) -> object:
        raise RedisConnectionError("Redis is away")

    pipeline.store.commit_batch = away  # type: ignore[method-assign]
    with pytest.raises(RedisConnectionError):
        await pipeline.events_batch(PARTITION, token, [view(0, 0), view(1, 1)], NOW)


async def test_a_redis_that_refuses_every_commit_stops_the_batch(redis_client) -> None:
    client, prefix = redis_client
    pipeline = make_pipeline(client, prefix, 0)
    token = await pipeline.store.take_fence(PARTITION)

    async def refused(*_: object, **__: object) -> object:
        raise ResponseError("OOM command not allowed when used memory > 'maxmemory'")

    pipeline.store.commit_batch = refused  # type: ignore[method-assign]
    with pytest.raises(ResponseError):
        await pipeline.events_batch(PARTITION, token, [view(0, 0), view(1, 1)], NOW)
    assert await pipeline.store.applied_offset(PARTITION, "events") == -1


def profile_message(offset: int, key: bytes, owner_bytes: int) -> Incoming:
    body = {
        "account_id": "acme",
        "updated_at": "2026-12-01T00:00:00Z",
        "industry": "software",
        "employees": 5_000,
        "owner": {"id": "o1", "notes": "n" * owner_bytes},
    }
    return Incoming("profiles", PARTITION, offset, key, orjson.dumps(body), NOW)


async def test_what_the_producer_could_not_send_is_never_in_the_outbox(redis_client) -> None:
    client, prefix = redis_client
    pipeline = make_pipeline(client, prefix, 0)
    publisher = Recording()
    pipeline.publisher = publisher
    token = await pipeline.store.take_fence(PARTITION)
    wrong_key = profile_message(0, b"not-acme", 1_000_000)  # under 1 MiB: a valid profile
    owned = profile_message(1, b"acme", 1_000_000)

    report = await pipeline.profiles_batch(PARTITION, token, [wrong_key, owned], NOW)
    await pipeline.publish_outbox(PARTITION, token)

    assert (report.applied, report.dead_letters, report.rerouted) == (1, 1, 0)
    assert all(fits(m) for m in publisher.sent)
    dead = [m for m in publisher.sent if m.destination is Destination.DEAD_LETTERS]
    assert dict(dead[0].headers)["scorer.error.code"] == b"too_large"
    changes = [m for m in publisher.sent if m.destination is Destination.SCORE_CHANGES]
    assert changes and all(orjson.loads(m.value or b"")["owner"] is None for m in changes)
