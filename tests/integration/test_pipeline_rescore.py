"""What a rescoring batch writes, against the real Redis: only what the new model versions
changed, and the same account as a batch that writes it whole would leave."""

from __future__ import annotations

import inspect
import math
import re
import shutil
import struct
from pathlib import Path
from typing import Any

import pytest

from scoring.engine import Engine
from streams.model_files import load_model_files
from streams.runtime.metrics import Metrics
from streams.runtime.pipeline import Pipeline
from streams.runtime.state_cache import StateCache
from streams.store.commit import CommitBatch, CommitResult
from streams.store.keys import PartitionKeys
from streams.store.records import account_bucket, record_name, split_record
from streams.store.state_store import StateStore
from tests.integration.test_pipeline_cache import NOW, PARTITION, ROOT, Recording, view

pytestmark = pytest.mark.redis


class CommitSpy(StateStore):
    """The real store, remembering what each commit was asked to write."""

    def __init__(self, client: Any, prefix: str) -> None:
        super().__init__(client, prefix)
        self.writes: list[tuple[str, list[str]]] = []  # (account, field names)
        self.ranks: list[tuple[str, str]] = []  # (account, model)

    async def commit_batch(self, *args: Any, **kwargs: Any) -> CommitResult:
        called = inspect.signature(StateStore.commit_batch).bind(self, *args, **kwargs).arguments
        batch: CommitBatch = called["batch"]
        shapes = struct.unpack(f"<{len(batch.accounts)}H", batch.record_shapes)
        self.writes.extend(
            (account, list(batch.shapes[shape - 1]))
            for account, shape in zip(batch.accounts, shapes, strict=True)
        )
        members = [*batch.accounts, *batch.others]
        for ranking in batch.rankings:
            numbers = (
                range(1, len(batch.accounts) + 1)
                if ranking.members is None
                else struct.unpack(f"<{len(ranking.tier_indexes)}I", ranking.members)
            )
            self.ranks.extend((members[number - 1], ranking.model) for number in numbers)
        return await super().commit_batch(*args, **kwargs)


def bumped_models(tmp_path: Path) -> Path:
    """deploy/models with new-business one version up."""
    models = tmp_path / "models"
    shutil.copytree(ROOT / "deploy/models", models)
    path = models / "new-business.yaml"
    bump = re.sub(r"(?m)^version: (\d+)", lambda m: f"version: {int(m[1]) + 1}", path.read_text())
    path.write_text(bump)
    return models


def pipeline(client: Any, prefix: str, models: Path) -> Pipeline:
    engine = Engine(load_model_files([models]))
    return Pipeline(
        engine,
        CommitSpy(client, prefix),
        Recording(),
        Metrics(),
        max_future_skew=300,
        cache=StateCache(0),
    )


async def scored_acme(client: Any, prefix: str) -> tuple[Pipeline, str]:
    """A pipeline on deploy/models that applied six page views of acme; its fence token."""
    old = pipeline(client, prefix, ROOT / "deploy/models")
    token = await old.store.take_fence(PARTITION)
    await old.events_batch(PARTITION, token, [view(i, i) for i in range(6)], NOW)
    return old, token


async def stored(client: Any, prefix: str, account: str) -> dict[bytes, bytes]:
    """The account's record, by record name."""
    keys = PartitionKeys(prefix, PARTITION)
    return split_record(await client.hget(keys.account_hash(account_bucket(account)), account))


async def test_rescoring_writes_only_the_rescored_models_of_the_accounts_behind(
    redis_client: Any, tmp_path: Path
) -> None:
    client, prefix = redis_client
    _, token = await scored_acme(client, prefix)
    before = await stored(client, prefix, "acme")
    new = pipeline(client, prefix, bumped_models(tmp_path))
    # What the account must become: read and rescored in memory, as any batch would.
    expected = (await new.load(PARTITION, ["acme"]))["acme"]
    new.engine.rescore(expected)

    report = await new.rescore(PARTITION, token, ["acme", "nobody"], NOW)

    spy = new.store
    assert isinstance(spy, CommitSpy)
    assert report.rescored == {"acme": ("new-business",)}
    assert spy.writes == [("acme", ["s:new-business"])]
    assert spy.ranks == [("acme", "new-business")]
    after = await stored(client, prefix, "acme")
    rescored = record_name("s:new-business")
    assert {k: v for k, v in after.items() if k != rescored} == {
        k: v for k, v in before.items() if k != rescored
    }
    assert after[rescored] != before[rescored]
    reread = (await new.load(PARTITION, ["acme"]))["acme"]
    assert not new.engine.needs_rescore(reread)
    assert reread.view() == expected.view()
    for model, tiers in new.accounts.tier_names.items():
        total = new.engine.standing(reread, model)[1]
        assert await new.store.top([PARTITION], model, tiers, 10) == [("acme", ranked(total))]

    spy.writes.clear()
    again = await new.rescore(PARTITION, token, ["acme"], NOW)

    assert again.rescored == {}
    assert spy.writes == []


def ranked(total: float) -> float:
    """A total as the ranking keeps it: rounded down to 1/16 point (docs/redis-layout.md)."""
    return math.floor(total * 16) / 16


async def test_a_model_that_moved_without_a_new_version_is_written_too(
    redis_client: Any, tmp_path: Path
) -> None:
    client, prefix = redis_client
    old, token = await scored_acme(client, prefix)
    loaded = (await old.load(PARTITION, ["acme"]))["acme"]
    tier, total = old.engine.standing(loaded, "expansion")
    assert (tier, 0 < total < 35) == ("steady", True)
    models = bumped_models(tmp_path)
    # expansion edited without a new version (against the rules): its tiers move the account.
    path = models / "expansion.yaml"
    path.write_text(path.read_text().replace("min: 35}", f"min: {total / 2:.6f}}}"))
    new = pipeline(client, prefix, models)

    report = await new.rescore(PARTITION, token, ["acme"], NOW)

    spy = new.store
    assert isinstance(spy, CommitSpy)
    assert [(c.model, c.tier) for c in report.changes] == [("expansion", "growing")]
    assert report.rescored == {"acme": ("expansion", "new-business")}
    assert [sorted(fields) for _, fields in spy.writes] == [["s:expansion", "s:new-business"]]
    reread = (await new.load(PARTITION, ["acme"]))["acme"]
    assert reread.tiers()["expansion"] == "growing"
    assert await new.store.top([PARTITION], "expansion", ["growing"], 10) == [
        ("acme", ranked(new.engine.standing(reread, "expansion")[1]))
    ]
