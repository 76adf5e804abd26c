"""The worker's state cache against the real Redis: a cached state gives the same bytes as one
read from Redis, and a worker that lost its fence never trusts what it cached before."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest
import redis.asyncio as aioredis

from scoring.engine import Engine
from scoring.state import StateDecodeError
from scoring.timefmt import format_rfc3339
from streams.model_files import load_model_files
from streams.runtime.messages import Incoming, Outgoing
from streams.runtime.metrics import Metrics
from streams.runtime.pipeline import Pipeline
from streams.runtime.state_cache import StateCache
from streams.store.keys import PartitionKeys
from streams.store.profiles import pack_profile
from streams.store.records import account_bucket, pack_record, split_record
from streams.store.state_store import StateStore

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_795_000_000.0
PARTITION = 0


class Recording:
    """A publisher that acknowledges everything and keeps what it was given (these tests read
    Redis and this, not Kafka)."""

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        self.sent.extend(messages)


def make_pipeline(client: object, prefix: str, capacity: int) -> Pipeline:
    engine = Engine(load_model_files([ROOT / "deploy/models"]))
    store = StateStore(client, prefix)  # type: ignore[arg-type]
    return Pipeline(
        engine, store, Recording(), Metrics(), max_future_skew=300, cache=StateCache(capacity)
    )


def message(offset: int, body: dict[str, object]) -> Incoming:
    return Incoming("events", PARTITION, offset, b"acme", orjson.dumps(body), NOW)


def view(offset: int, minutes: float, url: str = "/pricing") -> Incoming:
    return message(
        offset,
        {
            "event_id": f"e{offset}",
            "type": "page_view",
            "occurred_at": format_rfc3339(NOW - 3600 + 60 * minutes),
            "account_id": "acme",
            "contact_id": f"c{offset % 3}",
            "properties": {"url": url},
        },
    )


async def stored_hash(client: aioredis.Redis, prefix: str) -> dict[str, dict[bytes, bytes]]:
    """acme's record, by record name."""
    keys = PartitionKeys(prefix, PARTITION)
    return {
        "acme": split_record(await client.hget(keys.account_hash(account_bucket("acme")), "acme"))
    }


async def test_cached_and_uncached_workers_write_the_same_state(redis_client) -> None:
    client, prefix = redis_client
    results = {}
    for capacity in (0, 100):
        run_prefix = f"{prefix}-c{capacity}"
        pipeline = make_pipeline(client, run_prefix, capacity)
        token = await pipeline.store.take_fence(PARTITION)
        for batch in range(4):
            messages = [view(3 * batch + i, 3 * batch + i) for i in range(3)]
            messages[0] = message(
                messages[0].offset,
                {**orjson.loads(messages[0].value), "occurred_at": format_rfc3339(NOW - 86400)},
            )
            report = await pipeline.events_batch(PARTITION, token, messages, NOW)
            assert report.applied == 3
        results[capacity] = (await stored_hash(client, run_prefix))["acme"]
        assert len(pipeline.cache) == (1 if capacity else 0)

    assert results[0] == results[100]


async def test_a_fenced_batch_leaves_nothing_in_the_cache(redis_client) -> None:
    client, prefix = redis_client
    pipeline = make_pipeline(client, prefix, 100)
    token = await pipeline.store.take_fence(PARTITION)
    await pipeline.events_batch(PARTITION, token, [view(0, 0)], NOW)
    assert len(pipeline.cache) == 1

    await StateStore(client, prefix).take_fence(PARTITION)  # another worker takes over
    report = await pipeline.events_batch(PARTITION, token, [view(1, 1)], NOW)

    assert report.fenced
    assert len(pipeline.cache) == 0


async def test_a_worker_that_gets_its_partition_back_reads_what_the_other_one_wrote(
    redis_client,
) -> None:
    client, prefix = redis_client
    first, second = make_pipeline(client, prefix, 100), make_pipeline(client, prefix, 100)
    token = await first.store.take_fence(PARTITION)
    await first.events_batch(PARTITION, token, [view(0, 0)], NOW)

    # A rebalance: the second worker owns the partition for a while and applies more events.
    other = await second.store.take_fence(PARTITION)
    await second.events_batch(PARTITION, other, [view(1, 1), view(2, 2)], NOW)
    written = await stored_hash(client, prefix)

    # The first worker gets the partition back (a new token): its cached state is stale, and so
    # is the applied offset it remembers (Kafka may deliver the other worker's messages again).
    token = await first.store.take_fence(PARTITION)
    report = await first.events_batch(PARTITION, token, [view(1, 1), view(2, 2), view(3, 3)], NOW)

    assert report.applied == 1
    assert report.skipped == 2
    fresh = make_pipeline(client, f"{prefix}-replay", 0)
    replay_token = await fresh.store.take_fence(PARTITION)
    await fresh.events_batch(PARTITION, replay_token, [view(i, i) for i in range(4)], NOW)
    assert (await stored_hash(client, prefix))["acme"] == (
        await stored_hash(client, f"{prefix}-replay")
    )["acme"]
    assert (await stored_hash(client, prefix))["acme"] != written["acme"]


async def test_a_profile_is_stored_deflated_and_read_back_whole(redis_client) -> None:
    client, prefix = redis_client
    pipeline = make_pipeline(client, prefix, 0)
    token = await pipeline.store.take_fence(PARTITION)
    body = {
        "account_id": "acme",
        "updated_at": "2026-11-20T10:00:00Z",
        "industry": "software",
        "employees": 1200,
        "owner": {"id": "rep-1", "name": "Dana Reyes", "email": "dana@example.com"},
    }
    profile = Incoming("profiles", PARTITION, 0, b"acme", orjson.dumps(body), NOW)

    await pipeline.profiles_batch(PARTITION, token, [profile], NOW)

    stored = (await stored_hash(client, prefix))["acme"][b"p"]
    assert len(stored) < len(profile.value)
    state = (await pipeline.load(PARTITION, ["acme"]))["acme"]
    assert state.profile is not None
    assert dict(state.profile.fields) == body


@pytest.mark.parametrize(
    "stored",
    [
        b'{"updated_at":"2026-11-20T10:00:00Z"}',  # JSON, but no profile: no account id
        pack_profile(b'{"account_id":"acme"}', "acme"),  # deflated, no update time
        b"\x03later format",
    ],
)
async def test_a_stored_profile_that_reads_as_none_stops_the_load(
    redis_client, stored: bytes
) -> None:
    # Scoring the account without its profile would change its tiers silently.
    client, prefix = redis_client
    pipeline = make_pipeline(client, prefix, 0)
    keys = PartitionKeys(prefix, PARTITION)
    record = pack_record({b"p": stored})
    await client.hset(keys.account_hash(account_bucket("acme")), "acme", record)

    with pytest.raises(StateDecodeError):
        await pipeline.load(PARTITION, ["acme"])
