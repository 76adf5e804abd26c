"""`GET /accounts`'s candidates (streams.runtime.http.AccountViews.top_accounts) against the real
Redis: the accounts of a tier are found however many accounts rank above it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import orjson
import pytest

from streams.runtime.messages import Incoming
from streams.runtime.ownership import Fence
from streams.runtime.topics import PROFILES
from streams.runtime.worker import Worker
from tests.integration.live import in_process_worker

pytestmark = [pytest.mark.redis]

STRONG = {  # the ideal customer of deploy/models/new-business.yaml: warm on its profile alone
    "industry": "software",
    "employees": 5_000,
    "annual_revenue": 500_000_000,
    "country": "US",
    "technologies": ["salesforce", "snowflake", "hubspot"],
}
WEAK = {"industry": "mining", "employees": 3, "annual_revenue": 1_000, "country": "ZZ"}


@pytest.fixture
async def worker(redis_client: object, test_id: str) -> AsyncIterator[Worker]:
    runtime = in_process_worker(test_id, partitions=1)
    yield runtime
    await runtime.redis.aclose()


async def test_one_tier_lists_its_accounts_however_many_rank_above_it(worker: Worker) -> None:
    now = time.time()
    profiles = {f"strong-{n:02d}": STRONG for n in range(40)}
    profiles |= {f"weak-{n}": WEAK for n in range(3)}
    token = await worker.store.take_fence(0)
    worker.ownership.fences[0] = Fence(token, 1)
    topic = worker.settings.topic(PROFILES)
    messages = [
        Incoming(
            topic,
            0,
            offset,
            account.encode(),
            orjson.dumps({"account_id": account, "updated_at": "2026-12-01T00:00:00Z", **fields}),
            now,
        )
        for offset, (account, fields) in enumerate(profiles.items())
    ]
    await worker.pipeline.profiles_batch(0, token, messages, now)

    everyone = await worker.views.top_accounts("new-business", None, 1_000, now)
    tiers = {row["account_id"]: row["tier"] for row in everyone}
    lowest = next(m for m in worker.engine.models if m.id == "new-business").tiers[-1].name
    assert {tiers[f"weak-{n}"] for n in range(3)} == {lowest}
    # More accounts rank above the weak ones than a tier's query takes as candidates (1 x 3 + 20).
    assert sum(tier != lowest for tier in tiers.values()) > 23

    rows = await worker.views.top_accounts("new-business", lowest, 1, now)

    assert [row["account_id"] for row in rows] == ["weak-0"]
    assert rows[0]["tier"] == lowest
