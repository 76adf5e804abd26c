"""The worker's HTTP API (faust's web server): /healthz, /metrics, /accounts/{id} and /accounts.

Every account view is scored at the wall clock: totals decay between events, and a rep looking
at an account or at the top accounts expects today's numbers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection
from typing import Any

import faust
import redis.asyncio as aioredis
from multidict import MultiMapping
from redis.exceptions import RedisError

from scoring.engine import Engine
from scoring.timefmt import format_rfc3339
from streams.runtime.accounts import Accounts
from streams.runtime.metrics import Metrics
from streams.runtime.topics import account_partition
from streams.settings import Settings
from streams.store.state_store import StateStore

# The query parameters of /accounts, and its bounds on `limit` (docs/pipeline.md).
ACCOUNTS_PARAMETERS = frozenset({"model", "tier", "limit"})
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class AccountViews:
    """What the account pages answer, read from the store (not the worker's cache: any worker
    answers for every partition)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        accounts: Accounts,
        store: StateStore,
        versions: str,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.accounts = accounts
        self.store = store
        self.versions = versions

    async def top_accounts(
        self, model_id: str, tier: str | None, limit: int, now: float
    ) -> list[dict[str, Any]]:
        """The best accounts of a model (and tier) by their total decayed to now.

        The ranking sets hold each account's total at its last evaluation; accounts gone quiet
        sink only when evaluated again. So a wider set of candidates is re-scored at `now` and
        re-ranked, which is what a rep looking at "top accounts" expects. For one tier, the
        candidates are the accounts ranked in it: the best of all tiers would be those of the
        tiers above, filtered out. An account that decayed into the tier since its last
        evaluation joins it at a decay sweep (docs/pipeline.md).
        """
        model = next(m for m in self.engine.models if m.id == model_id)
        # A tier's totals stay below the `min` of the tier above it (docs/scoring.md section 3:
        # up at once), on partitions rescored to the loaded versions.
        ceilings: list[float | None] = [None, *(t.min for t in model.tiers[:-1])]
        tiers = [t.name for t in model.tiers]
        if tier is not None:  # one tier: the first is always read, so no ceiling
            ceilings, tiers = [None], [tier]
        candidates = await self.store.top(
            range(self.settings.topic_partitions),
            model_id,
            tiers,
            limit * 3 + 20,
            ceilings,
            self.versions,
        )
        by_partition: dict[int, list[str]] = {}
        for account_id, _ in candidates:
            partition = account_partition(account_id, self.settings.topic_partitions)
            by_partition.setdefault(partition, []).append(account_id)
        rows: list[dict[str, Any]] = []
        for partition, account_ids in by_partition.items():
            for account_id, state in (await self.accounts.load(partition, account_ids)).items():
                score = self.engine.score(state, model_id, at=now)
                if tier is None or score.tier == tier:
                    summary = self.engine.explain(state, model_id, at=now).summary
                    rows.append(
                        {
                            "account_id": account_id,
                            "tier": score.tier,
                            "total": score.total,
                            "summary": summary,
                        }
                    )
        rows.sort(key=lambda row: (-row["total"], row["account_id"]))
        return rows[:limit]

    async def account_view(self, account_id: str, now: float) -> dict[str, Any] | None:
        """Scores, tiers and explanations of one account under every model, decayed to now."""
        partition = account_partition(account_id, self.settings.topic_partitions)
        states = await self.accounts.load(partition, [account_id])
        state = states[account_id]
        if state.clock == float("-inf") and state.profile is None:
            return None
        scores = []
        for model in self.engine.models:
            score = self.engine.score(state, model.id, at=now)
            scores.append(
                {
                    "model": model.id,
                    "model_version": model.version,
                    "total": score.total,
                    "fit": score.fit,
                    "engagement": score.engagement,
                    "tier": score.tier,
                    "criteria": dict(score.criteria),
                    "explanation": self.engine.explain(state, model.id, at=now).to_dict(),
                }
            )
        return {
            "account_id": account_id,
            "clock": format_rfc3339(state.clock),
            "at": format_rfc3339(now),
            "scores": scores,
        }


async def redis_reachable(client: aioredis.Redis) -> bool:
    """True when Redis answers a PING within a second."""
    try:
        return bool(await asyncio.wait_for(client.ping(), timeout=1.0))
    except (RedisError, OSError, TimeoutError):
        return False


async def kafka_reachable(bootstrap: str) -> bool:
    """True when a bootstrap server accepts a connection within a second."""
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(host or "127.0.0.1", int(port or 9092)), timeout=1.0
            )
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        return True
    return False


def add_pages(
    app: faust.App,
    views: AccountViews,
    metrics: Metrics,
    redis: aioredis.Redis,
    owned: Callable[[], Collection[int]],
) -> None:
    """Adds the API's pages to `app`; `owned()` gives the partitions the worker owns now."""
    engine = views.engine

    @app.page("/healthz")
    async def healthz(web: Any, request: Any) -> Any:
        partitions = sorted(owned())
        checks = {
            "redis": await redis_reachable(redis),
            "kafka": await kafka_reachable(views.settings.kafka_bootstrap),
            "partitions": partitions,
        }
        healthy = checks["redis"] and checks["kafka"] and bool(partitions)
        return web.json(checks, status=200 if healthy else 503)

    @app.page("/metrics")
    async def metrics_page(web: Any, request: Any) -> Any:
        return web.bytes(metrics.render(), content_type="text/plain; version=0.0.4")

    # Any characters: aiohttp's default `{name}` matches no `{`, `}` or `/`, all of which an
    # account_id may hold (sent percent-encoded).
    @app.page("/accounts/{account_id:.+}")
    async def account(web: Any, request: Any, account_id: str) -> Any:
        body = await views.account_view(account_id, time.time())
        if body is None:
            return web.json({"error": f"no account {account_id!r}"}, status=404)
        return web.json(body)

    @app.page("/accounts")
    async def accounts(web: Any, request: Any) -> Any:
        query = top_accounts_query(request.query, engine)
        if isinstance(query, str):
            return web.json({"error": query}, status=400)
        model, tier, limit = query
        rows = await views.top_accounts(model, tier, limit, time.time())
        return web.json({"model": model, "tier": tier, "accounts": rows})


def top_accounts_query(
    query: MultiMapping[str], engine: Engine
) -> tuple[str, str | None, int] | str:
    """The model, tier and limit `/accounts?model=&tier=&limit=` asks for, or why the query is
    wrong: an unknown or repeated parameter, an empty value, an unknown model or tier, or a
    limit that is not a whole number from 1 to `MAX_LIMIT`."""
    for name in dict.fromkeys(query.keys()):
        if name not in ACCOUNTS_PARAMETERS:
            return f"unknown parameter {name!r} (known: model, tier, limit)"
        if len(query.getall(name)) > 1:
            return f"parameter {name!r} given more than once"
        if not query[name]:
            return f"parameter {name!r} is empty"
    known = {m.id: m for m in engine.models}
    model = query.get("model", engine.models[0].id)
    if model not in known:
        return f"unknown model {model!r} (known: {', '.join(known)})"
    tier = query.get("tier")
    tiers = [t.name for t in known[model].tiers]
    if tier is not None and tier not in tiers:
        return f"unknown tier {tier!r} of {model} (known: {', '.join(tiers)})"
    # ASCII digits only: int() would also take "1_000", " 7" and other scripts' digits.
    text = query.get("limit", str(DEFAULT_LIMIT))
    if not (len(text) <= 7 and text.isascii() and text.isdigit() and 1 <= int(text) <= MAX_LIMIT):
        return f"limit must be a whole number from 1 to {MAX_LIMIT}"
    return model, tier, int(text)
