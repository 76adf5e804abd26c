"""The batch commit's two ways of packing, against the real Redis: a batch packed by the core
(`Engine.dump_many`, one call per set of models written alike) leaves Redis exactly as the same
batch packed account by account (`CommitBatch.of`, from `Accounts.dump`, `rank` and
`due_time`): events batches, the decay sweep and a rescoring that writes some accounts' models
differently from others'."""

from __future__ import annotations

import re
import shutil
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from scoring.engine import Engine
from scoring.state import AccountState
from scoring.timefmt import format_rfc3339
from streams.model_files import load_model_files
from streams.offline.simulate import simulate
from streams.runtime.accounts import Accounts, LoadedTiers
from streams.runtime.messages import Destination, Incoming
from streams.runtime.metrics import Metrics
from streams.runtime.pipeline import Pipeline
from streams.runtime.state_cache import StateCache
from streams.store.commit import AccountWrite, CommitBatch
from streams.store.records import MODEL_FIELD_PREFIX
from streams.store.state_store import StateStore
from tests.integration.test_pipeline_cache import NOW, PARTITION, ROOT, Recording

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


def packed_by_account(accounts: Accounts) -> Any:
    """`Accounts.packed` as it was packed before the core did it: account by account."""

    def reference(
        states: Mapping[str, AccountState],
        loaded: LoadedTiers,
        only: Mapping[str, Sequence[str]] | None,
    ) -> CommitBatch:
        written = states if only is None else {a: states[a] for a in only}
        writes = []
        for account_id, state in written.items():
            fields = accounts.dump(state).fields
            if only is not None:
                names = [MODEL_FIELD_PREFIX + m for m in only[account_id]]
                fields = {name: fields[name] for name in names}
            writes.append(AccountWrite(account_id, fields))
        ranks = [
            accounts.rank(state, model, accounts.loaded_tier(loaded, account_id, model))
            for account_id, state in written.items()
            for model in (accounts.models if only is None else only[account_id])
        ]
        due = {a: accounts.due_time(state) for a, state in written.items()}
        return CommitBatch.of(writes, due, ranks)

    return reference


def scorer(client: Any, prefix: str, models: Path, *, by_account: bool) -> Pipeline:
    engine = Engine(load_model_files([models]))
    store = StateStore(client, prefix)
    pipeline = Pipeline(
        engine, store, Recording(), Metrics(), max_future_skew=300, cache=StateCache(0)
    )
    if by_account:
        pipeline.accounts.packed = packed_by_account(pipeline.accounts)  # type: ignore[method-assign]
    return pipeline


def moved_models(tmp_path: Path, expansion_line: float) -> Path:
    """deploy/models with new-business one version up and its `warm` line raised to just under
    `hot` (every warm account drops to nurture), and expansion's `growing` line moved without a
    new version (so it moves some accounts, which are written under it too)."""
    models = tmp_path / "models"
    shutil.copytree(ROOT / "deploy/models", models)
    path = models / "new-business.yaml"
    text = re.sub(r"(?m)^version: 1$", "version: 2", path.read_text())
    path.write_text(text.replace("min: 45}", "min: 69.5}"))
    path = models / "expansion.yaml"
    path.write_text(path.read_text().replace("min: 35}", f"min: {expansion_line:.6f}}}"))
    return models


async def feed(pipeline: Pipeline, rows: Any) -> None:
    token = await pipeline.store.take_fence(PARTITION)
    await pipeline.profiles_batch(PARTITION, token, incoming("profiles", rows.profiles), NOW)
    events = incoming("events", rows.events)
    for start in range(0, len(events), 97):
        await pipeline.events_batch(PARTITION, token, events[start : start + 97], NOW)
        await pipeline.publish_outbox(PARTITION, token)
    await pipeline.sweep(PARTITION, token, NOW + 40 * 86400)
    await pipeline.publish_outbox(PARTITION, token)


async def test_a_batch_packed_by_the_core_leaves_redis_as_one_packed_account_by_account(
    redis_client: Any, tmp_path: Path
) -> None:
    client, prefix = redis_client
    rows = simulate(30, 900, end=NOW - 60, seed=3)
    models = ROOT / "deploy/models"
    by_core = scorer(client, f"{prefix}-core", models, by_account=False)
    by_account = scorer(client, f"{prefix}-each", models, by_account=True)
    await feed(by_core, rows)
    await feed(by_account, rows)

    written = await contents(client, f"{prefix}-core")
    assert written == await contents(client, f"{prefix}-each")
    assert sum(1 for key in written if ":ranking:" in key) >= 4
    assert sum(len(v) for k, v in written.items() if ":accounts:" in k) == 30  # type: ignore[arg-type]
    sent = [m.encode() for m in by_core.publisher.sent]  # type: ignore[attr-defined]
    assert sent == [m.encode() for m in by_account.publisher.sent]  # type: ignore[attr-defined]
    assert len(sent) > 30  # tier changes, and the decay sweep's too

    # A rescoring whose accounts write different models (new-business for all, expansion for
    # those its moved line moves) and change tiers (so each must leave its old tier's set).
    accounts = sorted({str(row["account_id"]) for row in rows.profiles})
    loaded = await by_core.load(PARTITION, accounts)
    line = statistics.median(by_core.engine.standing(s, "expansion")[1] for s in loaded.values())
    moved = moved_models(tmp_path, line)
    rescored, dropped = [], []
    for name in ("core", "each"):
        pipeline = scorer(client, f"{prefix}-{name}", moved, by_account=name == "each")
        token = await pipeline.store.take_fence(PARTITION)
        report = await pipeline.rescore(PARTITION, token, accounts, NOW + 50 * 86400)
        rescored.append(report.rescored)
        dropped.append({c.account_id for c in report.changes if c.previous_tier == "warm"})
    assert rescored[0] == rescored[1]
    assert set(rescored[0].values()) == {("new-business",), ("expansion", "new-business")}
    assert dropped[0] == dropped[1] != set()
    assert await contents(client, f"{prefix}-core") == await contents(client, f"{prefix}-each")


async def test_an_event_beyond_the_allowed_lateness_is_a_dead_letter_and_changes_nothing(
    redis_client: Any,
) -> None:
    client, prefix = redis_client
    pipeline = scorer(client, f"{prefix}-late", ROOT / "deploy/models", by_account=False)
    token = await pipeline.store.take_fence(PARTITION)
    clock = NOW - 60
    stamp = format_rfc3339(clock)
    view = {"type": "page_view", "account_id": "acme", "properties": {"url": "/pricing"}}
    rows = [
        {**view, "event_id": "now", "occurred_at": stamp},
        {**view, "event_id": "late", "occurred_at": format_rfc3339(clock - 7 * 86400)},  # counts
        {**view, "event_id": "old", "occurred_at": format_rfc3339(clock - 7 * 86400 - 1)},
    ]
    report = await pipeline.events_batch(PARTITION, token, incoming("events", rows[:2]), NOW)
    assert (report.applied, report.dead_letters) == (2, 0)
    before = await contents(client, f"{prefix}-late")
    batch = incoming("events", rows)[2:]
    report = await pipeline.events_batch(PARTITION, token, batch, NOW)
    assert (report.applied, report.dead_letters, report.changes) == (0, 1, [])
    await pipeline.publish_outbox(PARTITION, token)
    sent = pipeline.publisher.sent  # type: ignore[attr-defined]
    (letter,) = [m for m in sent if m.destination is Destination.DEAD_LETTERS]
    headers = dict(letter.headers)
    assert headers["scorer.error.code"] == b"too_late"
    assert (
        headers["scorer.error.detail"]
        == (
            f"occurred_at is 604801.0 s before the account's clock {stamp}, "
            "more than the allowed lateness of 604800.0 s"
        ).encode()
    )
    registry = pipeline.metrics.registry
    assert registry.get_sample_value("scorer_events_too_late_total", {"type": "page_view"}) == 1
    after = await contents(client, f"{prefix}-late")
    # Only the applied offset and the outbox moved: the account is as it was.
    assert {k: v for k, v in after.items() if ":accounts:" in k} == {
        k: v for k, v in before.items() if ":accounts:" in k
    }
