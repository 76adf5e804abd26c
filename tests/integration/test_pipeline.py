"""The live pipeline against the real Kafka and Redis: it must agree with the offline replay.

Each test runs real `scorer worker` processes with its own topics, key prefix and consumer
group, produces a simulated market with `scorer produce`, and compares `scorer export` and the
score-change topic with `scorer replay` on the same files (docs/scoring.md section 5).
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from scoring.timefmt import format_rfc3339, parse_rfc3339
from streams.cli.produce import message_key
from streams.offline.simulate import simulate
from streams.runtime.kafka_admin import delete_topics_with_prefix, wait_for_topics
from streams.runtime.topics import DEAD_LETTERS, EVENTS, PROFILES, SCORE_CHANGES
from tests.integration.live import MODELS, LiveRun, by_change_key

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow]

TOLERANCE = 1e-6


@pytest.fixture
async def live(tmp_path: Path, test_id: str, kafka_bootstrap: str, redis_client) -> LiveRun:
    run = LiveRun(test_id, tmp_path)
    yield run
    run.stop_all()
    await delete_topics_with_prefix(kafka_bootstrap, f"test-{test_id}")


def market_files(tmp_path: Path, accounts: int, events: int, seed: int) -> tuple[Path, Path]:
    # Ends an hour ago: within the future-skew check, and decay sweeps are off anyway.
    market = simulate(accounts, events, end=time.time() - 3600, seed=seed, domain_share=0.0)
    return market.write(tmp_path / "market")


async def start(live: LiveRun, workers: int) -> None:
    for _ in range(workers):
        live.start_worker()
    names = [live.settings.topic(n) for n in (EVENTS, PROFILES, SCORE_CHANGES, DEAD_LETTERS)]
    await wait_for_topics(live.settings.kafka_bootstrap, names)


def replay(live: LiveRun, profiles: Path, events: Path, tmp_path: Path) -> tuple[Path, Path]:
    out, changes = tmp_path / "replay.jsonl", tmp_path / "replay-changes.jsonl"
    live.cli(
        "replay",
        "--models",
        str(MODELS),
        "--profiles",
        str(profiles),
        "--events",
        str(events),
        "--out",
        str(out),
        "--changes",
        str(changes),
    )
    return out, changes


def lines(path: Path) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line.strip()]


def assert_same_scores(live_out: Path, replay_out: Path) -> None:
    live_rows = {(r["account_id"], r["model"]): r for r in lines(live_out)}
    replay_rows = {(r["account_id"], r["model"]): r for r in lines(replay_out)}
    assert live_rows.keys() == replay_rows.keys()
    for key, expected in replay_rows.items():
        got = live_rows[key]
        assert got["tier"] == expected["tier"], key
        assert got["clock"] == expected["clock"], key
        for field in ("total", "fit", "engagement"):
            if expected[field] is None:
                assert got[field] is None
            else:
                assert abs(got[field] - expected[field]) <= TOLERANCE, (key, field)
        for criterion, score in expected["criteria"].items():
            assert abs(got["criteria"][criterion] - score) <= TOLERANCE, (key, criterion)


def assert_same_changes(published: list[dict[str, object]], replay_changes: Path) -> None:
    """The same tier changes per account and model, in seq order; a repeat (after a crash) must
    be the same change under the same seq."""
    expected = by_change_key(lines(replay_changes))
    got = by_change_key(published)
    assert got.keys() == expected.keys()
    for key, changes in got.items():
        unique: dict[object, dict[str, object]] = {}
        for change in changes:
            seen = unique.setdefault(change["seq"], change)
            assert (seen["tier"], seen["previous_tier"], seen["total"]) == (
                change["tier"],
                change["previous_tier"],
                change["total"],
            ), f"seq {change['seq']} of {key} published twice with different content"
        want = expected[key]
        assert [c["seq"] for c in unique.values()] == [c["seq"] for c in want], key
        for mine, theirs in zip(unique.values(), want, strict=True):
            assert (mine["previous_tier"], mine["tier"], mine["cause"]) == (
                theirs["previous_tier"],
                theirs["tier"],
                theirs["cause"],
            ), key
            assert abs(mine["total"] - theirs["total"]) <= TOLERANCE, key


async def assert_live_equals_replay(
    live: LiveRun, profiles: Path, events: Path, tmp_path: Path
) -> None:
    """`scorer export` of the live state against `scorer replay` of the same files, and the
    published score changes against the replay's."""
    live.cli("export", "--out", str(tmp_path / "live.jsonl"))
    replay_out, replay_changes = replay(live, profiles, events, tmp_path)
    assert_same_scores(tmp_path / "live.jsonl", replay_out)
    assert_same_changes(await live.score_changes(), replay_changes)


@pytest.mark.parametrize("workers", [1, 2], ids=["one-worker", "two-workers-four-partitions"])
async def test_live_pipeline_equals_the_replay(live: LiveRun, tmp_path: Path, workers: int) -> None:
    profiles, events = market_files(tmp_path, accounts=60, events=3000, seed=workers)
    await start(live, workers)

    live.cli("produce", "--profiles", str(profiles))
    await live.wait_applied("profiles")
    live.cli("produce", "--events", str(events))
    await live.wait_applied("events")
    await assert_live_equals_replay(live, profiles, events, tmp_path)


def with_late_copies(events: Path, share: float, seed: int) -> tuple[Path, int]:
    """`events` with, after a `share` of them, a copy (a new id) up to 10 days older: late by up
    to 10 days, so within ALLOWED_LATENESS (7 d) or beyond it, capped signals included. The
    path of the new file and how many copies it holds."""
    rng = random.Random(seed)
    out: list[bytes] = []
    copies = 0
    for n, line in enumerate(events.read_bytes().splitlines()):
        out.append(line)
        if rng.random() < share:
            row = orjson.loads(line)
            at = parse_rfc3339(row["occurred_at"]) - rng.uniform(3600, 10 * 86400)
            row["event_id"] = f"late-{n}"
            row["occurred_at"] = format_rfc3339(at)
            out.append(orjson.dumps(row))
            copies += 1
    late = events.with_name("events-late.jsonl")
    late.write_bytes(b"\n".join(out) + b"\n")
    return late, copies


async def test_late_arrivals_within_and_beyond_the_allowed_lateness_equal_the_replay(
    live: LiveRun, tmp_path: Path
) -> None:
    profiles, events = market_files(tmp_path, accounts=40, events=2000, seed=21)
    events, copies = with_late_copies(events, 0.08, seed=21)
    await start(live, 1)
    live.cli("produce", "--profiles", str(profiles))
    await live.wait_applied("profiles")
    live.cli("produce", "--events", str(events))
    await live.wait_applied("events")
    await assert_live_equals_replay(live, profiles, events, tmp_path)
    rejects = tmp_path / "rejects.jsonl"
    live.cli(
        "replay",
        "--models",
        str(MODELS),
        "--profiles",
        str(profiles),
        "--events",
        str(events),
        "--out",
        str(tmp_path / "again.jsonl"),
        "--rejects",
        str(rejects),
    )
    refused = [r for r in lines(rejects) if r["code"] == "too_late"]
    letters = await live.dead_letters()
    too_late = [h for _, _, h in letters if h["scorer.error.code"] == b"too_late"]
    assert 0 < len(refused) < copies, "some copies within the allowed lateness, some beyond"
    assert len(too_late) == len(refused)


async def test_sigkilled_workers_lose_nothing_and_count_nothing_twice(
    live: LiveRun, tmp_path: Path
) -> None:
    profiles, events = market_files(tmp_path, accounts=80, events=8000, seed=42)
    await start(live, 1)
    live.cli("produce", "--profiles", str(profiles))
    await live.wait_applied("profiles")

    # The stream in five parts, each sent paced once the worker before has been killed: every
    # restarted worker has new events to apply however fast it is or slow its restart (a fast
    # worker once applied everything produced before the next kill, and the kill never came).
    lines = events.read_bytes().splitlines(keepends=True)
    parts = [tmp_path / f"events-{n}.jsonl" for n in range(5)]
    for n, part in enumerate(parts):
        part.write_bytes(b"".join(lines[n * len(lines) // 5 : (n + 1) * len(lines) // 5]))
    sent = asyncio.Event()
    sent.set()  # nothing held back within a part
    rng = random.Random(3)
    for part in parts[:4]:
        sending = asyncio.create_task(produce_paced(live, part, 400, last=0, release=sent))
        try:
            # Kill in the middle of the work: once the worker has applied something new, at a
            # random moment shortly after, then restart; the new worker takes the partitions
            # over.
            before = await live.applied_count("events")
            deadline = time.monotonic() + 60
            while await live.applied_count("events") == before:
                assert time.monotonic() < deadline, f"no progress in 60 s\n{live.log_tail()}"
                await asyncio.sleep(0.05)
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            live.kill(live.workers[-1])
            live.start_worker()
            await sending
        finally:
            sending.cancel()
    await produce_paced(live, parts[4], 400, last=0, release=sent)
    await live.wait_applied("events", timeout=180)
    await assert_live_equals_replay(live, profiles, events, tmp_path)


async def produce_paced(
    live: LiveRun, events: Path, per_second: float, last: int, release: asyncio.Event
) -> None:
    """Sends the events file keyed by account at about `per_second`, holding its `last`
    events back until `release` is set, so the stream still flows while workers come and go
    however slow the machine is."""
    producer = AIOKafkaProducer(bootstrap_servers=live.settings.kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        topic = live.settings.topic(EVENTS)
        lines = events.read_bytes().splitlines()
        started = time.monotonic()
        for n, line in enumerate(lines):
            if n == len(lines) - last:
                await release.wait()
            await producer.send(topic, line, key=message_key(orjson.loads(line), "events"))
            ahead = n / per_second - (time.monotonic() - started)
            if ahead > 0.01:
                await asyncio.sleep(ahead)
        await producer.flush()
    finally:
        await producer.stop()


async def test_workers_joining_and_leaving_mid_stream_lose_nothing(
    live: LiveRun, tmp_path: Path
) -> None:
    """Rebalances while events flow. Each one revokes every partition (faust's eager protocol)
    and gives most back to the worker that had them, while messages fetched before it may
    still be in that worker's batch buffer, and a batch may come before the worker has taken
    a newly assigned partition's fence (tests/integration/test_worker_ownership.py pins both
    rules; this is the whole thing, which lost events before them)."""
    profiles, events = market_files(tmp_path, accounts=80, events=24000, seed=7)
    await start(live, 2)
    await live.wait_settled()
    live.cli("produce", "--profiles", str(profiles))
    await live.wait_applied("profiles")

    churned = asyncio.Event()
    producing = asyncio.create_task(
        produce_paced(live, events, per_second=2000, last=2000, release=churned)
    )
    # Workers that join and leave again right away: rebalances in quick succession, each
    # giving the first two workers back the partitions they had, while new processes starting
    # take CPU from them. A worker leaves only once it has joined (one stopped while joining
    # holds the group up to its rebalance timeout).
    for _ in range(3):
        joining = [live.start_worker(), live.start_worker()]
        for worker in joining:
            await live.wait_joined(worker)
        for worker in joining:
            live.stop(worker)
    churned.set()
    await producing
    await live.wait_applied("events", timeout=180)
    await assert_live_equals_replay(live, profiles, events, tmp_path)


async def test_every_dead_letter_code_with_good_events_around(
    live: LiveRun, tmp_path: Path
) -> None:
    await start(live, 1)
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60))
    future = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600))
    too_old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 60 - 8 * 86400))

    def good(n: int) -> bytes:
        return orjson.dumps(
            {
                "event_id": f"good-{n}",
                "type": "form_submit",
                "occurred_at": stamp,
                "account_id": "acme",
                "properties": {"form": "demo"},
            }
        )

    crafted = {
        "invalid_json": b'{"event_id": "x", "type": ',
        "schema_violation": orjson.dumps(
            {"event_id": "v", "type": "Page View", "occurred_at": stamp, "account_id": "acme"}
        ),
        "too_large": orjson.dumps(
            {
                "event_id": "big",
                "type": "page_view",
                "occurred_at": stamp,
                "account_id": "acme",
                "properties": {"blob": "x" * 70_000},
            }
        ),
        "future_timestamp": orjson.dumps(
            {"event_id": "f", "type": "page_view", "occurred_at": future, "account_id": "acme"}
        ),
        "unknown_account": orjson.dumps(
            {"event_id": "u", "type": "page_view", "occurred_at": stamp, "domain": "nobody.example"}
        ),
        # 8 days before acme's clock (the good event before it): beyond ALLOWED_LATENESS (7 d)
        "too_late": orjson.dumps(
            {"event_id": "o", "type": "page_view", "occurred_at": too_old, "account_id": "acme"}
        ),
    }
    producer = AIOKafkaProducer(
        bootstrap_servers=live.settings.kafka_bootstrap, max_request_size=200_000
    )
    await producer.start()
    try:
        topic = live.settings.topic(EVENTS)
        n = 0
        for code, value in crafted.items():
            key = b"nobody.example" if code == "unknown_account" else b"acme"
            await producer.send_and_wait(topic, good(n), key=b"acme")
            await producer.send_and_wait(
                topic, value, key=key, headers=[("trace-id", code.encode())]
            )
            n += 1
        await producer.send_and_wait(topic, good(n), key=b"acme")
    finally:
        await producer.stop()
    await live.wait_applied("events")

    letters = await live.dead_letters()
    codes = {
        headers["scorer.error.code"].decode(): (key, value, headers)
        for key, value, headers in letters
    }
    assert set(codes) == set(crafted)
    for code, (key, value, headers) in codes.items():
        assert value == crafted[code], "the original bytes are kept"
        assert key == (b"nobody.example" if code == "unknown_account" else b"acme")
        assert headers["trace-id"] == code.encode(), "the original headers are kept"
        assert headers["scorer.source.topic"].decode() == live.settings.topic(EVENTS)
        assert int(headers["scorer.source.offset"]) >= 0
        assert headers["scorer.error.detail"]
    late_detail = codes["too_late"][2]["scorer.error.detail"].decode()
    assert late_detail == (
        f"occurred_at is {8 * 86400.0!r} s before the account's clock {stamp}, "
        "more than the allowed lateness of 604800.0 s"
    )
    export = tmp_path / "live.jsonl"
    live.cli("export", "--out", str(export))
    acme = [r for r in lines(export) if r["account_id"] == "acme"]
    assert acme and all(r["clock"] == stamp for r in acme), "every good event was applied"
    nb = next(r for r in acme if r["model"] == "new-business")
    top = nb["explanation"]["criteria"]
    demo = [s for c in top for s in c["top_signals"] if s["id"] == "demo_request"]
    assert demo and demo[0]["count"] == len(crafted) + 1
