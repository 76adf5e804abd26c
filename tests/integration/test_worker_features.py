"""The worker's features against the real Kafka and Redis: HTTP, metrics, schemas of what it
produces, `scorer changes`, the decay sweep, rescoring after a model change, and the demo."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from scoring.timefmt import parse_rfc3339
from streams.offline.simulate import simulate
from streams.runtime.kafka_admin import delete_topics_with_prefix, wait_for_topics
from streams.runtime.topics import DEAD_LETTERS, EVENTS, PROFILES, SCORE_CHANGES
from tests.integration.live import MODELS, ROOT, LiveRun, get, healthy

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow]

SCHEMAS = ROOT / "schemas"


def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    return Draft202012Validator(schema, format_checker=FormatChecker())


def live_run(tmp_path: Path, test_id: str, **env: str) -> LiveRun:
    return LiveRun(test_id, tmp_path, extra_env=env)


async def started(run: LiveRun, workers: int = 1) -> None:
    for _ in range(workers):
        run.start_worker()
    names = [run.settings.topic(n) for n in (EVENTS, PROFILES, SCORE_CHANGES, DEAD_LETTERS)]
    await wait_for_topics(run.settings.kafka_bootstrap, names)


@pytest.fixture
async def run(tmp_path: Path, test_id: str, kafka_bootstrap: str, redis_client) -> LiveRun:
    live = live_run(tmp_path, test_id)
    yield live
    live.stop_all()
    await delete_topics_with_prefix(kafka_bootstrap, f"test-{test_id}")


async def test_http_metrics_schemas_and_changes_cli(run: LiveRun, tmp_path: Path) -> None:
    market = simulate(12, 600, end=time.time() - 600, seed=5, domain_share=0.0)
    bad = {
        "event_id": "bad-1",
        "type": "Not A Type",
        "occurred_at": "2026-01-01T00:00:00Z",
        "account_id": "acct-000001",
    }
    market.events.append(bad)
    profiles, events = market.write(tmp_path / "market")
    await started(run)
    port = run.ports[0]
    await healthy(port)
    run.cli("produce", "--profiles", str(profiles))
    await run.wait_applied("profiles")
    run.cli("produce", "--events", str(events))
    await run.wait_applied("events")

    status, body = get(port, "/healthz")
    health = orjson.loads(body)
    assert status == 200 and health["redis"] and health["partitions"] == [0, 1, 2, 3]

    status, body = get(port, "/accounts/acct-000003")
    assert status == 200
    account = orjson.loads(body)
    assert {s["model"] for s in account["scores"]} == {"new-business", "expansion"}
    for score in account["scores"]:
        assert 0 <= score["total"] <= 100
        assert score["explanation"]["summary"].startswith(f"{score['tier']} ")
    assert get(port, "/accounts/nobody")[0] == 404

    status, body = get(port, "/accounts?model=new-business&limit=5")
    top = orjson.loads(body)["accounts"]
    assert status == 200 and 0 < len(top) <= 5
    assert [row["total"] for row in top] == sorted((row["total"] for row in top), reverse=True)
    tier = top[0]["tier"]
    _, body = get(port, f"/accounts?model=new-business&tier={tier}&limit=50")
    assert {row["tier"] for row in orjson.loads(body)["accounts"]} == {tier}
    assert get(port, "/accounts?model=nope")[0] == 400
    assert get(port, "/accounts?model=new-business&tier=lukewarm")[0] == 400
    assert get(port, "/accounts?limit=many")[0] == 400

    status, body = get(port, "/metrics")
    metrics = body.decode()
    assert status == 200
    for name in (
        "scorer_events_applied_total",
        "scorer_dead_letters_total",
        "scorer_batch_seconds_bucket",
        "scorer_tier_changes_total",
        "scorer_redis_call_seconds_bucket",
        "scorer_publish_seconds_bucket",
        "scorer_profiles_applied_total",
    ):
        assert name in metrics, name
    assert 'scorer_dead_letters_total{code="schema_violation"} 1.0' in metrics
    assert "acct-" not in metrics, "no account id as a label"

    changes_out = tmp_path / "changes.jsonl"
    run.cli("changes", "--out", str(changes_out), "--idle", "2")
    cli_changes = [orjson.loads(line) for line in changes_out.read_bytes().splitlines()]
    topic_changes = await run.score_changes()
    assert cli_changes and len(cli_changes) == len(topic_changes)
    score_change = validator("score-change.v1.schema.json")
    for change in cli_changes:
        score_change.validate(change)
    letters = await run.dead_letters()
    assert len(letters) == 1
    dead_letter = validator("dead-letter.v1.schema.json")
    for _, value, headers in letters:
        dead_letter.validate({k: v.decode() for k, v in headers.items()})
        assert orjson.loads(value) == bad


def short_model(tmp_path: Path) -> Path:
    """A model whose engagement halves every 4 s: hot right after a demo request, cold soon."""
    models = tmp_path / "models"
    models.mkdir()
    (models / "fast.yaml").write_text(
        "id: fast\nversion: 1\ntiers:\n  - {name: hot, min: 50, alert: true}\n"
        "  - {name: cold, min: 0}\ncriteria:\n  - id: intent\n    kind: behavioral\n"
        "    weight: 1\n    half_life: 4s\n    saturation: 100\n    signals:\n"
        "      - {id: demo_request, event: form_submit, points: 100}\n"
    )
    return models


async def test_decay_sweep_drops_a_quiet_account_within_one_interval(
    tmp_path: Path, test_id: str, kafka_bootstrap: str, redis_client
) -> None:
    run = live_run(
        tmp_path, test_id, MODELS_DIR=str(short_model(tmp_path)), DECAY_SWEEP_INTERVAL="1"
    )
    try:
        await started(run)
        await healthy(run.ports[0])
        occurred = time.time()
        events = tmp_path / "events.jsonl"
        events.write_bytes(
            orjson.dumps(
                {
                    "event_id": "demo-1",
                    "type": "form_submit",
                    "account_id": "acme",
                    "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(occurred))
                    + f".{int(occurred % 1 * 1000):03d}Z",
                }
            )
            + b"\n"
        )
        run.cli("produce", "--events", str(events))

        deadline = time.monotonic() + 30
        changes: list[dict[str, object]] = []
        while time.monotonic() < deadline and len(changes) < 2:
            await asyncio.sleep(0.5)
            changes = await run.score_changes()
    finally:
        run.stop_all()
        await delete_topics_with_prefix(kafka_bootstrap, f"test-{test_id}")

    assert [(c["previous_tier"], c["tier"], c["cause"]) for c in changes] == [
        ("cold", "hot", "event"),
        ("hot", "cold", "decay"),
    ]
    assert changes[0]["alert"] is True
    # The total 100 * 2^(-t/4) crosses 50 four seconds after the event; the sweep (every 1 s)
    # must publish the drop within one interval of that moment (plus a little scheduling).
    crossing = round(occurred, 3) + 4.0
    dropped_at = parse_rfc3339(str(changes[1]["occurred_at"]))
    assert crossing <= dropped_at <= crossing + 1.0 + 0.5


async def test_a_backlog_fills_its_batches_up_to_batch_max_and_never_beyond(
    tmp_path: Path, test_id: str, kafka_bootstrap: str, redis_client
) -> None:
    """A worker that starts behind a large backlog goes on gathering each batch past
    BATCH_WITHIN, up to BATCH_MAX, while Kafka holds ten batches more (streams/runtime/batching.py).
    faust's batching would cut each batch after BATCH_WITHIN (1 ms here: ~20 messages)."""
    market = simulate(50, 10_000, end=time.time() - 600, seed=11, domain_share=0.0)
    profiles, events = market.write(tmp_path / "market")
    env = {"BATCH_MAX": "50", "BATCH_WITHIN": "0.001", "BATCH_BACKLOG_WITHIN": "10"}
    run = LiveRun(test_id, tmp_path, partitions=1, extra_env=env)
    try:
        await started(run)
        await healthy(run.ports[0])
        run.cli("produce", "--profiles", str(profiles))
        await run.wait_applied("profiles", timeout=60)
        run.stop(run.workers[0])
        run.cli("produce", "--events", str(events))  # the backlog
        run.start_worker()
        await healthy(run.ports[1])
        await run.wait_applied("events", timeout=120)
        _, body = get(run.ports[1], "/metrics")
    finally:
        run.stop_all()
        await delete_topics_with_prefix(kafka_bootstrap, f"test-{test_id}")

    # One partition: each batch of the stream is one batch of the pipeline. All but the last
    # ~500 events (ten batches) come in full batches.
    samples = {
        name: float(value)
        for name, value in (
            line.rsplit(" ", 1)
            for line in body.decode().splitlines()
            if line.startswith("scorer_batch_size_")
        )
    }
    batches = samples["scorer_batch_size_count"]
    assert samples['scorer_batch_size_bucket{le="50.0"}'] == batches
    assert samples["scorer_batch_size_sum"] / batches >= 30


async def test_a_new_model_version_rescores_every_account_in_the_background(
    tmp_path: Path, test_id: str, kafka_bootstrap: str, redis_client
) -> None:
    models = tmp_path / "models"
    shutil.copytree(MODELS, models)
    run = live_run(tmp_path, test_id, MODELS_DIR=str(models))
    market = simulate(40, 2000, end=time.time() - 600, seed=9, domain_share=0.0)
    profiles, events = market.write(tmp_path / "market")
    try:
        await started(run)
        run.cli("produce", "--profiles", str(profiles))
        await run.wait_applied("profiles")
        run.cli("produce", "--events", str(events))
        await run.wait_applied("events")
        run.stop_all()

        # Version 2 doubles the points of pricing views (stored hit weights stay exact) and
        # lowers the hot tier, so accounts move up when rescored.
        model = models / "new-business.yaml"
        text = model.read_text()
        for old in ("version: 1", "points: 6", "hot,     min: 70"):
            assert old in text, old
        model.write_text(
            text.replace("version: 1", "version: 2")
            .replace("points: 6", "points: 12")
            .replace("hot,     min: 70", "hot,     min: 50")
        )
        run.start_worker()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            rescored = await run.versions_rescored()
            if rescored == {"expansion:1,new-business:2"}:
                break
            await asyncio.sleep(0.5)
        assert rescored == {"expansion:1,new-business:2"}, run.log_tail()
        await run.wait_applied("events")
        run.cli("export", "--out", str(tmp_path / "live.jsonl"))
        run.cli(
            "replay",
            "--models",
            str(models),
            "--profiles",
            str(profiles),
            "--events",
            str(events),
            "--out",
            str(tmp_path / "replay.jsonl"),
        )
        changes = await run.score_changes()
    finally:
        run.stop_all()
        await delete_topics_with_prefix(kafka_bootstrap, f"test-{test_id}")

    live_rows = {
        (r["account_id"], r["model"]): r
        for r in map(orjson.loads, (tmp_path / "live.jsonl").read_bytes().splitlines())
    }
    replay_rows = {
        (r["account_id"], r["model"]): r
        for r in map(orjson.loads, (tmp_path / "replay.jsonl").read_bytes().splitlines())
    }
    assert live_rows.keys() == replay_rows.keys()
    for key, expected in replay_rows.items():
        assert live_rows[key]["model_version"] == expected["model_version"]
        assert abs(live_rows[key]["total"] - expected["total"]) <= 1e-6, key
    assert any(c["cause"] == "rescore" and c["model_version"] == 2 for c in changes)


async def test_make_demo_runs_end_to_end(test_id: str, kafka_bootstrap: str, redis_client) -> None:
    name = f"test-{test_id}"
    try:
        result = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                "-m",
                "streams.cli",
                "demo",
                "--accounts",
                "20",
                "--events",
                "800",
                "--name",
                name,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        await delete_topics_with_prefix(kafka_bootstrap, name)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "tier changes published" in result.stdout
    assert "Top accounts, new-business" in result.stdout
    assert " -> " in result.stdout
