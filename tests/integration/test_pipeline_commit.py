"""The batch commit's two ways of packing, against the real Redis: a batch whose accounts are
written whole (`Engine.dump_many`, one call to the core) leaves Redis exactly as the same batch
packed account by account (`CommitBatch.of`)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.pipeline import Incoming, Pipeline
from streams.simulate import simulate
from tests.integration.test_pipeline_cache import NOW, PARTITION, make_pipeline

pytestmark = pytest.mark.redis


def incoming(topic: str, rows: list[dict[str, object]]) -> list[Incoming]:
    return [
        Incoming(
            topic,
            PARTITION,
            offset,
            str(row.get("account_id") or row["domain"]).encode(),
            orjson.dumps(row),
            NOW,
        )
        for offset, row in enumerate(rows)
    ]


async def contents(client: Any, prefix: str) -> dict[str, object]:
    """Every key of `prefix` but its fences, named without it, with its value (by type)."""
    found: dict[str, object] = {}
    async for raw in client.scan_iter(match=f"*{prefix}:*", count=1000):
        key = raw.decode()
        if key.endswith(":fence"):
            continue  # a token of its own
        kind = (await client.type(key)).decode()
        if kind == "hash":
            value: object = list((await client.hgetall(key)).items())  # in field order
        elif kind == "zset":
            value = await client.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            value = await client.lrange(key, 0, -1)
        else:
            value = await client.get(key)
        found[key.replace(prefix, "P")] = value
    return found


async def feed(pipeline: Pipeline, rows: Any) -> None:
    token = await pipeline.store.take_fence(PARTITION)
    await pipeline.profiles_batch(PARTITION, token, incoming("profiles", rows.profiles), NOW)
    events = incoming("events", rows.events)
    for start in range(0, len(events), 97):
        await pipeline.events_batch(PARTITION, token, events[start : start + 97], NOW)
        await pipeline.publish_outbox(PARTITION, token)
    await pipeline.sweep(PARTITION, token, NOW + 40 * 86400)
    await pipeline.publish_outbox(PARTITION, token)


async def test_a_batch_written_whole_leaves_redis_as_one_packed_account_by_account(
    redis_client: Any,
) -> None:
    client, prefix = redis_client
    rows = simulate(30, 900, end=NOW - 60, seed=3)
    whole = make_pipeline(client, f"{prefix}-whole", 0)
    by_account = make_pipeline(client, f"{prefix}-each", 0)

    def packed_by_account(states: Any, report: Any) -> Any:
        return by_account._by_account(states, {}, report, None)

    by_account._whole = packed_by_account  # type: ignore[method-assign]
    await feed(whole, rows)
    await feed(by_account, rows)

    written = await contents(client, f"{prefix}-whole")
    assert written == await contents(client, f"{prefix}-each")
    assert sum(1 for key in written if ":rank:" in key) >= 4
    assert sum(1 for key in written if ":a:" in key) == 30
    sent = [m.encode() for m in whole.publisher.sent]  # type: ignore[attr-defined]
    assert sent == [m.encode() for m in by_account.publisher.sent]  # type: ignore[attr-defined]
    assert len(sent) > 30  # tier changes, and the decay sweep's too
