"""`make bench`: the live pipeline against the real Kafka and Redis (issue 5).

One file of ~1,300 lines on purpose: it is one program read top to bottom, its phases run in
order on one stack and share the run's topics, workers and report; split, a reader would follow
a single run across modules.

    .venv/bin/python tests/bench/bench_pipeline.py [--quick] [--out docs/benchmarks.md]

Addresses come from `streams.settings.Settings` (KAFKA_BOOTSTRAP, REDIS_URL), so the same
command runs on the default local stack or on a second stack beside it. Everything the bench
creates carries its own topic prefix, key prefix and consumer group (`bench-<stamp>`) and is
deleted at the end (unless --keep). Nothing is asserted: the figures go into a Markdown table,
each next to its target, between the `bench:begin`/`bench:end` markers of the output file (the
text around the markers is kept, so the hand-written analysis survives a re-run).

Phases, in this order so that each measures one thing on an otherwise idle pipeline:

1. worker 1 applies the profiles (Redis `used_memory` before and after), then stops;
2. the events are produced with no worker running; **ceiling**: a raw aiokafka consumer reads
   them all, no processing;
3. worker 2 starts on the pre-produced topic: **throughput** from the applied offsets in Redis
   over time, Redis CPU per event (`INFO cpu`), Redis memory per account and model, worker RSS;
4. **latency**: a paced producer offers a fixed load (events stamped with the produce time);
   produce-to-applied from polling the applied offsets, produce-to-published from consuming the
   score-change topic, and the worker's own histograms as a cross-check;
5. **profile**: py-spy samples worker 2 while it drains a burst of fresh events;
6. **rescoring**: worker 3 starts with a new version of one model; time until every partition's
   `versions` key names the new versions;
7. **naive**: a per-event design over the same events topic (`naive_consume`);
8. **replay**: `bench_replay.main` (the scoring core alone, one core).
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import datetime
import gc
import importlib.metadata
import io
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition

from scoring.decode import Rejection, decode_event, decode_profile
from scoring.engine import Engine
from scoring.messages import Profile
from scoring.timefmt import format_rfc3339
from streams.model_files import load_model_files
from streams.offline.simulate import simulate
from streams.runtime.kafka_admin import delete_topics_with_prefix, wait_for_topics
from streams.runtime.messages import INGESTED_HEADER, is_alert, score_change_message
from streams.runtime.processes import stop_gracefully
from streams.runtime.topics import EVENTS, PROFILES, SCORE_CHANGES, account_partition
from streams.settings import Settings
from streams.store.client import connect_redis
from streams.store.keys import PartitionKeys
from streams.store.records import account_bucket, record_name, split_record

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "deploy/models"
DOC = ROOT / "docs/benchmarks.md"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
OFFERED_RATE = 5_000.0  # events/s of the latency phase (issue 5)
# The latency phase polls Redis for a running AOF rewrite this often, and counts a slow score
# change as the rewrite's when it arrived during one or this long after (docs/benchmarks.md).
REWRITE_POLL_SECONDS, REWRITE_AFTERMATH_SECONDS = 0.05, 0.3


@dataclass(frozen=True, slots=True)
class Scale:
    """How much work each phase does; every loop of the bench is bounded by these."""

    accounts: int
    events: int
    latency_seconds: float
    profile_events: int
    profile_seconds: float
    naive_seconds: float  # the naive design stops after this long (or at the topic's end)
    replay_accounts: int
    replay_events: int
    replay_rounds: int
    drain_timeout: float  # longest wait for a worker to apply a topic


FULL = Scale(100_000, 1_000_000, 60.0, 60_000, 30.0, 60.0, 20_000, 200_000, 3, 1200.0)
QUICK = Scale(10_000, 100_000, 15.0, 30_000, 10.0, 15.0, 5_000, 50_000, 1, 180.0)


@dataclass(slots=True)
class Results:
    """Every figure of one run, filled phase by phase (None: the phase did not get there)."""

    scale: Scale
    started: float = field(default_factory=time.time)
    events_in_topic: int = 0
    ceiling_rate: float | None = None
    naive_rate: float | None = None
    naive_events: int = 0
    naive_changes: int = 0
    pipeline_rate: float | None = None  # 10%..90% of the applied messages
    pipeline_overall: float | None = None  # first applied to all applied
    pipeline_seconds: float | None = None
    redis_cpu_us_per_event: float | None = None
    # AOF rewrites during the drain, the latency phase and the rescoring
    rewrites: dict[str, AofRewrites] = field(default_factory=dict)
    worker_cpu_us_per_event: float | None = None
    memory_per_account_model: float | None = None
    memory_profiles_only: float | None = None
    memory_breakdown: dict[str, float] = field(default_factory=dict)
    worker_rss_mb: float | None = None
    worker_hwm_mb: float | None = None
    latency: dict[str, float | int | None] = field(default_factory=dict)
    rescore_rate: float | None = None
    rescore_seconds: float | None = None
    rescore_start_seconds: float | None = None
    # CPU per account rescored, from ownership to done
    rescore_worker_cpu_us: float | None = None
    rescore_redis_cpu_us: float | None = None
    replay_rate: float | None = None
    replay_text: str = ""
    profile_self: list[tuple[str, float]] = field(default_factory=list)
    profile_total: list[tuple[str, float]] = field(default_factory=list)
    profile_samples: int = 0
    notes: list[str] = field(default_factory=list)


# --- the deployment under test -----------------------------------------------------------------


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Deployment:
    """One isolated scorer deployment: its settings and the worker process it runs (at most
    one at a time). Mirrors tests/integration/live.py's `LiveRun`."""

    def __init__(self, base: Settings, stamp: str, workdir: Path) -> None:
        self.workdir = workdir
        self.settings = Settings(
            kafka_bootstrap=base.kafka_bootstrap,
            redis_url=base.redis_url,
            topic_prefix=f"bench-{stamp}.",
            key_prefix=f"bench-{stamp}",
            app_id=f"bench-{stamp}-scorer",
            topic_partitions=base.topic_partitions,
        )
        self.partitions = self.settings.topic_partitions
        self.worker: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.log: Path | None = None
        self.count = 0

    def worker_env(self, models_dir: Path, port: int) -> dict[str, str]:
        """The environment of a `scorer worker` of this deployment, serving HTTP on `port`."""
        s = self.settings
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP": s.kafka_bootstrap,
            "REDIS_URL": s.redis_url.get_secret_value(),
            "TOPIC_PREFIX": s.topic_prefix,
            "KEY_PREFIX": s.key_prefix,
            "APP_ID": s.app_id,
            "TOPIC_PARTITIONS": str(s.topic_partitions),
            "MODELS_DIR": str(models_dir),
            "DECAY_SWEEP_INTERVAL": "0",  # no sweep competing with the measured work
            "WEB_PORT": str(port),
        }

    def spawn_worker(self, models_dir: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
        """A `scorer worker` process of this deployment, its output in `log`."""
        with log.open("wb") as handle:
            return subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "info"],
                env=self.worker_env(models_dir, port),
                cwd=ROOT,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )

    def start_worker(self, models_dir: Path) -> subprocess.Popen[bytes]:
        """The deployment's worker (one at a time: `stop_worker` before the next)."""
        assert self.worker is None, "one worker at a time"
        self.port = free_port()
        self.count += 1
        self.log = self.workdir / f"worker-{self.count}.log"
        self.worker = self.spawn_worker(models_dir, self.port, self.log)
        return self.worker

    def stop_worker(self) -> None:
        worker, self.worker = self.worker, None
        if worker is None or worker.poll() is not None:
            return
        stop_gracefully(worker, timeout=60)

    def check_alive(self) -> None:
        """Raises with the log's tail when the worker has exited."""
        if self.worker is not None and self.worker.poll() is not None:
            raise RuntimeError(f"the worker exited ({self.worker.returncode})\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if self.log is None or not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def rss(self) -> tuple[float, float]:
        """The worker's (VmRSS, VmHWM) in MiB, from /proc."""
        assert self.worker is not None
        found = {}
        for line in Path(f"/proc/{self.worker.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                found[name] = int(value.split()[0]) / 1024
        return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the worker has used so far."""
        assert self.worker is not None
        return process_cpu_seconds(self.worker.pid)

    async def http(self, path: str) -> tuple[int, bytes]:
        """GET on the worker's web server; (0, b"") when it does not answer yet."""

        def get() -> tuple[int, bytes]:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                    return int(r.status), r.read()
            except urllib.error.HTTPError as err:
                return int(err.code), b""
            except OSError:
                return 0, b""

        return await asyncio.to_thread(get)

    async def wait_healthy(self, timeout: float = 120) -> float:
        """Until GET /healthz is 200 (Redis answers, partitions owned); returns that time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if (await self.http("/healthz"))[0] == 200:
                return time.monotonic()
            await asyncio.sleep(0.1)
        raise RuntimeError(f"worker not healthy within {timeout}s\n{self.log_tail()}")


# --- Kafka and Redis helpers -------------------------------------------------------------------


def encode_rows(rows: Sequence[dict[str, object]], kind: str) -> list[tuple[bytes, bytes]]:
    """(key, value) per row, keyed as `scorer produce` keys them (tools.message_key)."""
    out = []
    for row in rows:
        key = row.get("account_id") or (row.get("domain") if kind == "events" else None)
        assert isinstance(key, str), row
        out.append((key.encode(), orjson.dumps(row)))
    return out


async def produce_all(bootstrap: str, topic: str, messages: Sequence[tuple[bytes, bytes]]) -> float:
    """Sends every message (idempotent, acks=all, as `scorer produce`); returns messages/s."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    started = time.monotonic()
    try:
        pending = []
        for key, value in messages:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 10_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return len(messages) / max(time.monotonic() - started, 1e-9)


async def applied_offsets(client: aioredis.Redis, dep: Deployment, source: str) -> list[int]:
    """The applied offset of each partition of `source` (-1 = none), one round trip."""
    keys = [PartitionKeys(dep.settings.key_prefix, p).offset(source) for p in range(dep.partitions)]
    return [-1 if v is None else int(v) for v in await client.mget(keys)]


async def wait_applied(
    client: aioredis.Redis,
    dep: Deployment,
    source: str,
    timeout: float,
    samples: list[tuple[float, int]] | None = None,
    every: float = 0.25,
) -> float:
    """Until Redis has applied every message of the source topic, re-published ones included,
    and every outbox is empty; returns that time (monotonic). With `samples`, appends
    (time, messages applied) at each poll, for the rate over time."""
    topic = dep.settings.topic(EVENTS if source == "events" else PROFILES)
    consumer = AIOKafkaConsumer(bootstrap_servers=dep.settings.kafka_bootstrap)
    await consumer.start()
    tps = [TopicPartition(topic, p) for p in range(dep.partitions)]
    outboxes = [PartitionKeys(dep.settings.key_prefix, p).outbox for p in range(dep.partitions)]
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            dep.check_alive()
            # Outboxes first, then the ends: an empty outbox means its re-published events are
            # in Kafka already, so the ends read next count them.
            async with client.pipeline(transaction=False) as pipe:
                for key in outboxes:
                    pipe.llen(key)
                backlog = sum(await pipe.execute())
            ends = await consumer.end_offsets(tps)
            applied = await applied_offsets(client, dep, source)
            now = time.monotonic()
            if samples is not None:
                samples.append((now, sum(a + 1 for a in applied)))
            if backlog == 0 and all(
                applied[tp.partition] >= end - 1 for tp, end in ends.items() if end > 0
            ):
                return now
            await asyncio.sleep(every)
    finally:
        await consumer.stop()
    raise RuntimeError(f"{source} not applied within {timeout}s\n{dep.log_tail()}")


async def redis_info(client: aioredis.Redis, section: str) -> dict[str, object]:
    return dict(await client.info(section))


async def redis_cpu(client: aioredis.Redis) -> float:
    info = await redis_info(client, "cpu")
    return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class AofRewrites:
    """Redis's AOF rewrites so far and the CPU seconds of its children (the rewrites' forks),
    which `INFO cpu` counts apart from Redis's own `used_cpu_*`."""

    count: int
    children_cpu: float

    def since(self, earlier: AofRewrites) -> AofRewrites:
        return AofRewrites(self.count - earlier.count, self.children_cpu - earlier.children_cpu)


async def aof_rewrites(client: aioredis.Redis) -> AofRewrites:
    cpu = await redis_info(client, "cpu")
    persistence = await redis_info(client, "persistence")
    return AofRewrites(
        int(persistence["aof_rewrites"]),  # type: ignore[call-overload]
        float(cpu["used_cpu_sys_children"]) + float(cpu["used_cpu_user_children"]),  # type: ignore[arg-type]
    )


async def redis_memory(client: aioredis.Redis) -> int:
    return int((await redis_info(client, "memory"))["used_memory"])  # type: ignore[call-overload]


# What `used_memory` counts besides the data: the clients' query and output buffers, the AOF
# buffer, the Lua scripts' memory (INFO memory).
BUFFERS = ("mem_clients_normal", "mem_aof_buffer", "used_memory_scripts")


async def redis_buffers(client: aioredis.Redis) -> int:
    memory = await redis_info(client, "memory")
    return sum(int(memory.get(name, 0)) for name in BUFFERS)  # type: ignore[call-overload]


async def memory_breakdown(
    client: aioredis.Redis, dep: Deployment, accounts: int, sample: int = 300
) -> dict[str, float]:
    """Where the bytes go, per account: MEMORY USAGE of the account hashes that hold sampled
    accounts divided by their accounts, the sizes of the sampled accounts' record entries, and
    the ranking and due sorted sets (whole, divided by accounts)."""
    ids = [f"acct-{i:06d}" for i in random.Random(3).sample(range(accounts), min(sample, accounts))]
    names = {record_name(f): f for f in ("m", "p")}
    names.update({record_name(f"s:{m.id}"): f"s:{m.id}" for m in load_model_files([MODELS])})
    usage, held, records, entries = 0, 0, [], defaultdict(list)
    hashes = set()
    for a in ids:
        keys = PartitionKeys(dep.settings.key_prefix, account_partition(a, dep.partitions))
        key = keys.account_hash(account_bucket(a))
        if key not in hashes:
            hashes.add(key)
            usage += int(await client.memory_usage(key, samples=0) or 0)
            held += int(await client.hlen(key))
        record = await client.hget(key, a) or b""
        records.append(len(record))
        for name, value in split_record(record).items():
            entries[names.get(name, repr(name))].append(len(value))
    sorted_sets = 0
    for p in range(dep.partitions):
        tag = PartitionKeys(dep.settings.key_prefix, p).tag
        for pattern in (f"{tag}:ranking:*", f"{tag}:due:*"):
            async for key in client.scan_iter(match=pattern, count=1000):
                sorted_sets += int(await client.memory_usage(key, samples=0) or 0)
    out = {
        "account hashes (MEMORY USAGE / accounts they hold)": usage / max(held, 1),
        "account record": sum(records) / len(records),
    }
    for label, sizes in sorted(entries.items()):
        out[f"record entry {label}"] = sum(sizes) / len(sizes)
    out["rank + due sorted sets"] = sorted_sets / accounts
    return out


async def metrics_histograms(dep: Deployment) -> dict[str, dict[float, float]]:
    """Cumulative bucket counts of every histogram on GET /metrics: name -> {le: count}."""
    status, body = await dep.http("/metrics")
    found: dict[str, dict[float, float]] = defaultdict(dict)
    if status != 200:
        return found
    pattern = re.compile(r'^(\w+)_bucket\{(?:[^}]*,)?le="([^"]+)"[^}]*\} ([0-9.e+-]+)$')
    for line in body.decode().splitlines():
        if match := pattern.match(line):
            le = float("inf") if match[2] == "+Inf" else float(match[2])
            found[match[1]][le] = found[match[1]].get(le, 0.0) + float(match[3])
    return found


def histogram_quantile(
    before: dict[float, float], after: dict[float, float], q: float
) -> float | None:
    """Prometheus-style quantile of the buckets' increase (linear within a bucket)."""
    bounds = sorted(after)
    counts = [after[b] - before.get(b, 0.0) for b in bounds]
    if not counts or counts[-1] <= 0:
        return None
    rank, previous_bound, previous_count = q * counts[-1], 0.0, 0.0
    for bound, count in zip(bounds, counts, strict=True):
        if count >= rank:
            if bound == float("inf"):
                return previous_bound
            share = (rank - previous_count) / max(count - previous_count, 1e-9)
            return previous_bound + (bound - previous_bound) * share
        previous_bound, previous_count = bound, count
    return None


def quantiles(values: list[float]) -> tuple[float, float, float] | None:
    if not values:
        return None
    values = sorted(values)

    def at(q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))]

    return at(0.50), at(0.95), at(0.99)


async def delete_run(base: Settings, dep: Deployment) -> None:
    """Removes the run's topics (its prefix and consumer group's) and Redis keys."""
    await delete_topics_with_prefix(
        base.kafka_bootstrap, dep.settings.topic_prefix, dep.settings.app_id
    )
    client = connect_redis(base.redis_url.get_secret_value())
    try:
        for pattern in (f"{{{dep.settings.key_prefix}*", f"{dep.settings.key_prefix}*"):
            batch = []
            async for key in client.scan_iter(match=pattern, count=5000):
                batch.append(key)
                if len(batch) >= 5000:
                    await client.unlink(*batch)
                    batch.clear()
            if batch:
                await client.unlink(*batch)
    finally:
        await client.aclose()


# --- 1. ceiling --------------------------------------------------------------------------------


async def ceiling(bootstrap: str, topic: str, partitions: int, expected: int) -> float:
    """Raw aiokafka consumption of the whole topic, no processing: messages/s from the first
    record to the last."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
        seen, first = 0, None
        deadline = time.monotonic() + 600
        while seen < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            if first is None and batches:
                first = time.monotonic()
            seen += sum(len(records) for records in batches.values())
        assert first is not None, "no record read"
        return seen / max(time.monotonic() - first, 1e-9)
    finally:
        await consumer.stop()


# --- 2. naive baseline -------------------------------------------------------------------------


async def naive_load_profiles(
    client: aioredis.Redis, prefix: str, profiles: Sequence[tuple[bytes, bytes]]
) -> None:
    """The naive design's accounts: one hash per account holding its profile, plus the domain
    map; loaded in bulk beforehand, not measured."""
    for start in range(0, len(profiles), 2000):
        async with client.pipeline(transaction=False) as pipe:
            for key, value in profiles[start : start + 2000]:
                pipe.hset(f"{prefix}:a:{key.decode()}", "p", value)
                for domain in orjson.loads(value).get("domains", []):
                    pipe.set(f"{prefix}:domain:{domain}", key)
            await pipe.execute()


async def naive_consume(
    settings: Settings,
    engine: Engine,
    topic: str,
    out_topic: str,
    prefix: str,
    budget: float,
    limit: int,
) -> tuple[int, float, int]:
    """The design most teams write first: consume one event at a time; per event ONE Redis
    round trip (the previous event's HSET pipelined with this account's HGETALL, which is
    correct since Redis runs them in order), plus a GET for an event that names only a domain;
    per tier change one produce awaited until acknowledged. Stops after `budget` seconds or
    `limit` events. Returns (events, seconds, tier changes)."""
    client = connect_redis(settings.redis_url.get_secret_value())
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    models = {model.id: model for model in engine.models}
    await consumer.start()
    await producer.start()
    events = changes = 0
    pending: tuple[str, dict[str, bytes]] | None = None
    started = time.monotonic()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(settings.topic_partitions)])
        while events < limit and time.monotonic() - started < budget:
            batches = await consumer.getmany(timeout_ms=1000, max_records=500)
            if not batches:
                break
            for records in batches.values():
                for record in records:
                    now = time.time()
                    event = decode_event(record.value, now=now)
                    if isinstance(event, Rejection):
                        continue
                    account = event.account_id
                    if account is None:
                        found = await client.get(f"{prefix}:domain:{event.domain}")
                        if found is None:
                            continue
                        account = found.decode()
                        event.account_id = account
                    key = f"{prefix}:a:{account}"
                    async with client.pipeline(transaction=False) as pipe:
                        if pending is not None:
                            pipe.hset(pending[0], mapping=pending[1])  # type: ignore[arg-type]
                        pipe.hgetall(key)
                        fields = (await pipe.execute())[-1]
                    raw_profile = fields.get(b"p")
                    profile = decode_profile(raw_profile) if raw_profile else None
                    state = engine.restore(
                        account,
                        fields.get(b"m"),
                        {n.decode()[2:]: v for n, v in fields.items() if n.startswith(b"s:")},
                        profile if isinstance(profile, Profile) else None,
                    )
                    outcome = engine.apply_event(state, event)
                    for change in outcome.changes:
                        message = score_change_message(
                            change, is_alert(models[change.model], change), state.profile, now
                        )
                        await producer.send_and_wait(out_topic, message, key=account.encode())
                        changes += 1
                    meta, blobs = engine.dump(state)
                    pending = (key, {"m": meta, **{f"s:{m}": b for m, b in blobs.items()}})
                    events += 1
        if pending is not None:
            await client.hset(pending[0], mapping=pending[1])  # type: ignore[arg-type]
        return events, time.monotonic() - started, changes
    finally:
        await producer.stop()
        await consumer.stop()
        await client.aclose()


# --- 4. latency --------------------------------------------------------------------------------


async def latency_phase(
    client: aioredis.Redis,
    dep: Deployment,
    templates: Sequence[dict[str, object]],
    rate: float,
    seconds: float,
    drain_timeout: float,
) -> dict[str, float | int | None]:
    """Offers `rate` events/s for `seconds`, each stamped with its produce time, and measures
    produce -> applied (Redis offsets polled every 5 ms) and produce -> score change published
    (the change's `scorer.ingested.at` header, the Kafka time of its batch's first message, to
    when this process receives it from the topic: an upper bound of the broker's ack), and how
    many changes over 100 ms arrived while Redis ran an AOF rewrite."""
    s = dep.settings
    producer = AIOKafkaProducer(bootstrap_servers=s.kafka_bootstrap, acks="all", linger_ms=0)
    changes_consumer = AIOKafkaConsumer(
        bootstrap_servers=s.kafka_bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20
    )
    await producer.start()
    await changes_consumer.start()
    tps = [TopicPartition(s.topic(SCORE_CHANGES), p) for p in range(dep.partitions)]
    changes_consumer.assign(tps)
    await changes_consumer.seek_to_end(*tps)
    for tp in tps:
        await changes_consumer.position(tp)
    before = await metrics_histograms(dep)
    sent: list[tuple[float, asyncio.Future[object]]] = []
    polls: list[tuple[float, list[int]]] = []
    published: list[tuple[float, float]] = []  # (received, produce -> published)
    rewriting: list[float] = []  # times Redis was seen running an AOF rewrite
    stop = asyncio.Event()
    phase_start = time.time()

    async def poll_offsets() -> None:
        last: list[int] = []
        while not stop.is_set():
            applied = await applied_offsets(client, dep, "events")
            if applied != last:
                polls.append((time.time(), applied))
                last = applied
            await asyncio.sleep(0.005)

    async def read_changes() -> None:
        while not stop.is_set():
            batches = await changes_consumer.getmany(timeout_ms=100)
            received = time.time()
            for records in batches.values():
                for record in records:
                    ingested = dict(record.headers).get(INGESTED_HEADER)
                    if ingested is not None and float(ingested) >= phase_start:
                        published.append((received, received - float(ingested)))

    async def poll_rewrites() -> None:
        while not stop.is_set():
            if int((await redis_info(client, "persistence"))["aof_rewrite_in_progress"]):  # type: ignore[call-overload]
                rewriting.append(time.time())
            await asyncio.sleep(REWRITE_POLL_SECONDS)

    # The load generator's own pauses must not count as the worker's latency: with the
    # simulated market and every sent future alive, this process's full collections took
    # 60-560 ms each, several per phase (measured 2026-12-01). Nothing here makes cycles to
    # free, so the collector waits until the phase is over.
    gc.freeze()
    gc.disable()
    pollers = [asyncio.create_task(task()) for task in (poll_offsets, read_changes, poll_rewrites)]
    topic = s.topic(EVENTS)
    started = time.monotonic()
    serial = 0
    try:
        while (elapsed := time.monotonic() - started) < seconds:
            due = min(int(elapsed * rate) - serial, 1_000)  # bounded burst after a stall
            for _ in range(max(due, 0)):
                row = dict(templates[serial % len(templates)])
                now = time.time()
                row["event_id"] = f"lat-{phase_start:.0f}-{serial}"
                row["occurred_at"] = format_rfc3339(round(now, 3))
                account = row["account_id"]
                assert isinstance(account, str)
                future = await producer.send(topic, orjson.dumps(row), key=account.encode())
                sent.append((now, future))
                serial += 1
            await asyncio.sleep(0.002)
        offered_seconds = time.monotonic() - started
        await asyncio.gather(*(f for _, f in sent))
        await wait_applied(client, dep, "events", timeout=drain_timeout, every=0.05)
        await asyncio.sleep(2.0)  # the last batches' score changes reach the topic
    finally:
        gc.enable()
        gc.unfreeze()
        stop.set()
        polled = await asyncio.gather(*pollers, return_exceptions=True)
        await producer.stop()
        await changes_consumer.stop()
    # Without the rewrite poll, no count at all rather than a count of 0 that looks measured.
    rewrites_polled = not isinstance(polled[2], BaseException)
    after = await metrics_histograms(dep)
    applied_at = _applied_times(sent, polls)
    to_applied = quantiles([a - p for (p, _), a in zip(sent, applied_at, strict=True)])
    to_published = quantiles([latency for _, latency in published])
    slow = [received for received, latency in published if latency > 0.1]
    last_applied = max(applied_at) if applied_at else phase_start
    out: dict[str, float | int | None] = {
        "offered_rate": rate,
        "sent": len(sent),
        "sustained_offer": len(sent) / offered_seconds,
        "applied_rate": len(sent) / max(last_applied - phase_start, 1e-9),
        "changes": len(published),
        "published_over_100ms": len(slow),
        "published_over_100ms_near_rewrite": (
            sum(1 for received in slow if _near_rewrite(received, rewriting))
            if rewrites_polled
            else None
        ),
    }
    for name, values in (("applied", to_applied), ("published", to_published)):
        for q, v in zip(("p50", "p95", "p99"), values or (None, None, None), strict=True):
            out[f"{name}_{q}"] = v
    for name, metric in (
        ("hist_applied", "scorer_event_to_applied_seconds"),
        ("hist_published", "scorer_ingest_to_published_seconds"),
        ("hist_batch", "scorer_batch_seconds"),
        ("hist_publish", "scorer_publish_seconds"),
    ):
        for q in (0.5, 0.95, 0.99):
            out[f"{name}_p{int(q * 100)}"] = histogram_quantile(
                before.get(metric, {}), after.get(metric, {}), q
            )
    return out


def _near_rewrite(received: float, rewriting: Sequence[float]) -> bool:
    """Whether a score change arrived while Redis ran an AOF rewrite (seen by a poll within
    `REWRITE_POLL_SECONDS`) or up to `REWRITE_AFTERMATH_SECONDS` after: batches held up
    meanwhile end then."""
    index = bisect.bisect_left(rewriting, received - REWRITE_AFTERMATH_SECONDS)
    return index < len(rewriting) and rewriting[index] <= received + REWRITE_POLL_SECONDS


def _applied_times(
    sent: Sequence[tuple[float, asyncio.Future[object]]], polls: Sequence[tuple[float, list[int]]]
) -> list[float]:
    """Per sent message, the first poll at which its partition's applied offset covered it."""
    by_partition: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for index, (_, future) in enumerate(sent):
        metadata = future.result()
        by_partition[metadata.partition].append((metadata.offset, index))  # type: ignore[attr-defined]
    out = [float("nan")] * len(sent)
    for partition, items in by_partition.items():
        items.sort()
        at = 0
        for t, applied in polls:
            while at < len(items) and items[at][0] <= applied[partition]:
                out[items[at][1]] = t
                at += 1
    last = polls[-1][0] if polls else time.time()
    return [last if v != v else v for v in out]  # never seen applied: the last poll (bound)


# --- 5. profile ---------------------------------------------------------------------------------


def parse_py_spy(
    raw: str, top: int = 15
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """From py-spy's collapsed stacks: the functions with most samples on top of the stack
    (self) and anywhere in it (total), as shares of all samples."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [_frame_name(f) for f in stack.split(";")]
        frames = [f for f in frames if f]
        if frames:
            own[UVLOOP_RUNNERS.get(frames[-1], frames[-1])] += count
        for name in set(frames):
            total[name] += count
    share = max(samples, 1)
    return (
        [(name, n / share) for name, n in own.most_common(top)],
        [(name, n / share) for name, n in total.most_common(top * 3) if _is_ours(name)][:top],
    )


# uvloop's event loop is C, which py-spy does not see into: a sample in the loop itself (its
# wait for sockets, its own callbacks) lands on the Python frame that started the loop.
UVLOOP_RUNNERS = {
    "Worker.execute_from_commandline (mode/worker.py)": "uvloop's loop (C), main thread: waiting "
    "and its own work",
    "ServiceThread._start_thread (mode/threads.py)": "uvloop's loop (C), consumer thread: "
    "waiting and its own work",
}


def _frame_name(frame: str) -> str:
    """`function (path/file.py:line)` -> `function (package/file.py)`; drops thread roots."""
    match = re.match(r"^(.*) \((.*?)(?::\d+)?\)$", frame)
    if not match:
        return ""
    function, path = match[1], match[2]
    parts = Path(path).parts
    for anchor in ("site-packages", "main", "lib"):
        if anchor in parts:
            parts = parts[len(parts) - parts[::-1].index(anchor) :]
            break
    for package in ("scoring", "streams"):  # ours: the whole path in the package, as in the repo
        if package in parts:
            return f"{function} ({'/'.join(parts[parts.index(package) :])})"
    return f"{function} ({'/'.join(parts[-2:])})"


def _is_ours(name: str) -> bool:
    # The worker's entry frames (command line, agent loop, lock, retry, the per-message fallback
    # around each batch) hold every sample of the stream and say nothing about where time goes.
    wrappers = (
        "(streams/cli/",
        "score_events",
        "handle_or_die",
        "Ownership.locked",
        "retry",
        "Pipeline._isolated",
    )
    return ("(streams/" in name or "(scoring/" in name) and not any(w in name for w in wrappers)


async def profile_phase(
    client: aioredis.Redis,
    dep: Deployment,
    templates: Sequence[dict[str, object]],
    count: int,
    seconds: float,
    out: Path,
) -> tuple[list[tuple[str, float]], list[tuple[str, float]], int] | None:
    """py-spy samples the running worker while it drains `count` fresh events."""
    py_spy = Path(sys.executable).with_name("py-spy")
    if not py_spy.exists() or dep.worker is None:
        return None
    spy = subprocess.Popen(
        [
            str(py_spy),
            "record",
            "--pid",
            str(dep.worker.pid),
            "--duration",
            str(int(seconds)),
            "--rate",
            "100",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    now = time.time()
    rows = []
    for serial in range(count):
        row = dict(templates[serial % len(templates)])
        row["event_id"] = f"prof-{now:.0f}-{serial}"
        row["occurred_at"] = format_rfc3339(round(now - 60 + serial * 30 / max(count, 1), 3))
        rows.append(row)
    await produce_all(
        dep.settings.kafka_bootstrap, dep.settings.topic(EVENTS), encode_rows(rows, "events")
    )
    try:
        await asyncio.to_thread(spy.wait, seconds + 30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()
    await wait_applied(client, dep, "events", timeout=300)
    if not out.exists():
        return None
    own, total = parse_py_spy(out.read_text())
    samples = sum(
        int(line.rpartition(" ")[2])
        for line in out.read_text().splitlines()
        if line.rpartition(" ")[2].isdigit()
    )
    return own, total, samples


# --- the run -----------------------------------------------------------------------------------


async def run(base: Settings, scale: Scale, workdir: Path, keep: bool) -> Results:
    """Every phase in order (module docstring); returns the figures, partial on a failure."""
    results = Results(scale)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d%H%M%S")
    dep = Deployment(base, stamp, workdir)
    s = dep.settings
    client = connect_redis(s.redis_url.get_secret_value())
    models = load_model_files([MODELS])
    n_models = len(models)
    try:
        print(f"bench: simulating {scale.accounts:,} accounts, {scale.events:,} events", flush=True)
        market = simulate(scale.accounts, scale.events, end=time.time() - 600, seed=5)
        profiles = encode_rows(market.profiles, "profiles")
        events = encode_rows(market.events, "events")
        templates = [e for e in market.events if "account_id" in e][:50_000]
        del market
        results.events_in_topic = len(events)

        # 1. profiles, with the memory they take
        print("bench: worker 1 applies the profiles", flush=True)
        dep.start_worker(MODELS)
        await wait_for_topics(s.kafka_bootstrap, [s.topic(EVENTS), s.topic(PROFILES)])
        await dep.wait_healthy()
        memory_before = await redis_memory(client)
        buffers_before = await redis_buffers(client)
        await produce_all(s.kafka_bootstrap, s.topic(PROFILES), profiles)
        await wait_applied(client, dep, "profiles", timeout=scale.drain_timeout)
        memory_profiles = await redis_memory(client)
        results.memory_profiles_only = (memory_profiles - memory_before) / (
            scale.accounts * n_models
        )
        dep.stop_worker()

        # 2. pre-produced events; the ceiling reads them with nothing else running
        print(f"bench: producing {len(events):,} events", flush=True)
        rate = await produce_all(s.kafka_bootstrap, s.topic(EVENTS), events)
        print(f"bench: produced at {rate:,.0f}/s; ceiling", flush=True)
        results.ceiling_rate = await ceiling(
            s.kafka_bootstrap, s.topic(EVENTS), dep.partitions, len(events)
        )
        print(f"bench: ceiling {results.ceiling_rate:,.0f} events/s", flush=True)

        # 3. throughput of one worker on the pre-produced topic
        print("bench: worker 2 scores the pre-produced events", flush=True)
        cpu_before = await redis_cpu(client)
        rewrites_before = await aof_rewrites(client)
        samples: list[tuple[float, int]] = []
        dep.start_worker(MODELS)
        rss_peak = 0.0
        done_at = None
        deadline = time.monotonic() + scale.drain_timeout
        while done_at is None and time.monotonic() < deadline:
            try:
                done_at = await wait_applied(
                    client, dep, "events", timeout=5.0, samples=samples, every=0.25
                )
            except RuntimeError:
                dep.check_alive()
            rss_peak = max(rss_peak, dep.rss()[0])
        if done_at is None:
            raise RuntimeError(f"events not applied in {scale.drain_timeout}s\n{dep.log_tail()}")
        cpu_after = await redis_cpu(client)
        results.rewrites["drain"] = (await aof_rewrites(client)).since(rewrites_before)
        worker_cpu = dep.cpu_seconds()
        applied_total = samples[-1][1]
        first = next(t for t, n in samples if n > 0)
        results.pipeline_seconds = done_at - first
        results.pipeline_overall = applied_total / max(done_at - first, 1e-9)
        t10 = next(t for t, n in samples if n >= 0.1 * applied_total)
        n10 = next(n for t, n in samples if n >= 0.1 * applied_total)
        t90 = next(t for t, n in samples if n >= 0.9 * applied_total)
        n90 = next(n for t, n in samples if n >= 0.9 * applied_total)
        results.pipeline_rate = (n90 - n10) / max(t90 - t10, 1e-9)
        results.redis_cpu_us_per_event = (cpu_after - cpu_before) / applied_total * 1e6
        results.worker_cpu_us_per_event = worker_cpu / applied_total * 1e6
        print(
            f"bench: pipeline {results.pipeline_rate:,.0f} events/s (10-90%), "
            f"{results.pipeline_overall:,.0f} overall",
            flush=True,
        )
        memory_events = await redis_memory(client)
        results.memory_per_account_model = (memory_events - memory_before) / (
            scale.accounts * n_models
        )
        buffers = (await redis_buffers(client) - buffers_before) / scale.accounts
        results.memory_breakdown = await memory_breakdown(client, dep, scale.accounts)
        results.memory_breakdown[f"Redis's buffers, change ({' + '.join(BUFFERS)})"] = buffers
        rss, hwm = dep.rss()
        results.worker_rss_mb, results.worker_hwm_mb = rss, max(hwm, rss_peak)

        # 4. latency at a fixed offered load
        print(f"bench: latency at {OFFERED_RATE:,.0f} events/s", flush=True)
        rewrites_before = await aof_rewrites(client)
        results.latency = await latency_phase(
            client, dep, templates, OFFERED_RATE, scale.latency_seconds, scale.drain_timeout
        )
        results.rewrites["latency"] = (await aof_rewrites(client)).since(rewrites_before)
        print(f"bench: latency {results.latency}", flush=True)

        # 5. profile of the hot path
        print("bench: profiling the worker", flush=True)
        profiled = await profile_phase(
            client, dep, templates, scale.profile_events, scale.profile_seconds, workdir / "spy.txt"
        )
        if profiled is None:
            results.notes.append("py-spy is not installed in the venv: no profile")
        else:
            results.profile_self, results.profile_total, results.profile_samples = profiled
        dep.stop_worker()

        # 6. rescoring after a model version change
        print("bench: rescoring after a model version change", flush=True)
        bumped = workdir / "models"
        shutil.copytree(MODELS, bumped)
        model_file = bumped / "new-business.yaml"
        text = model_file.read_text()
        model_file.write_text(re.sub(r"(?m)^version: (\d+)", _bump, text, count=1))
        new_models = load_model_files([bumped])
        expected = ",".join(f"{m.id}:{m.version}" for m in sorted(new_models, key=lambda m: m.id))
        launched = time.monotonic()
        dep.start_worker(bumped)
        owned = await dep.wait_healthy()
        rewrites_before = await aof_rewrites(client)  # over the rescoring's own seconds
        worker_cpu_before, redis_cpu_before = dep.cpu_seconds(), await redis_cpu(client)
        versions = [PartitionKeys(s.key_prefix, p).versions for p in range(dep.partitions)]
        deadline = time.monotonic() + scale.drain_timeout
        while time.monotonic() < deadline:
            dep.check_alive()
            values = await client.mget(versions)
            if all(v is not None and v.decode() == expected for v in values):
                done = time.monotonic()
                results.rescore_seconds = done - owned
                results.rescore_start_seconds = owned - launched
                results.rescore_rate = scale.accounts / max(done - owned, 1e-9)
                results.rescore_worker_cpu_us = (
                    (dep.cpu_seconds() - worker_cpu_before) / scale.accounts * 1e6
                )
                results.rescore_redis_cpu_us = (
                    (await redis_cpu(client) - redis_cpu_before) / scale.accounts * 1e6
                )
                results.rewrites["rescoring"] = (await aof_rewrites(client)).since(rewrites_before)
                break
            await asyncio.sleep(0.05)
        dep.stop_worker()
        print(f"bench: rescoring {results.rescore_rate or 0:,.0f} accounts/s", flush=True)

        # 7. the naive design on the same pre-produced events (no worker running)
        print("bench: naive per-event design", flush=True)
        naive_prefix = f"{s.key_prefix}:naive"
        naive_topic = s.topic("naive-score-changes")
        admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(naive_topic, dep.partitions, 1)])
        finally:
            await admin.close()
        await naive_load_profiles(client, naive_prefix, profiles)
        engine = Engine(models, dedupe_window=s.dedupe_window, allowed_lateness=s.allowed_lateness)
        n, seconds, changes = await naive_consume(
            s, engine, s.topic(EVENTS), naive_topic, naive_prefix, scale.naive_seconds, len(events)
        )
        results.naive_events, results.naive_changes = n, changes
        results.naive_rate = n / max(seconds, 1e-9)
        print(f"bench: naive {results.naive_rate:,.0f} events/s", flush=True)
    finally:
        dep.stop_worker()
        await client.aclose()
        if not keep:
            await delete_run(base, dep)

    # 8. the scoring core's replay (no service involved)
    print("bench: replay of the scoring core", flush=True)
    results.replay_text, results.replay_rate = replay_bench(scale)
    return results


def _bump(match: re.Match[str]) -> str:
    return f"version: {int(match[1]) + 1}"


def replay_bench(scale: Scale) -> tuple[str, float | None]:
    """bench_replay.main's printout and its whole-replay events/s."""
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_replay

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        bench_replay.main(scale.replay_accounts, scale.replay_events, scale.replay_rounds)
    text = buffer.getvalue()
    match = re.search(r"whole replay[^:]*:\s*([\d,]+) events/s", text)
    return text, float(match[1].replace(",", "")) if match else None


# --- the table ---------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    meminfo = Path("/proc/meminfo").read_text()
    total = int(re.search(r"MemTotal:\s+(\d+)", meminfo)[1]) / 1024 / 1024  # type: ignore[index]
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    jars = sorted((ROOT / "deploy/local/kafka/libs").glob("kafka-server-[0-9]*.jar"))
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu[1].strip() if cpu else platform.processor(),
        "memory": f"{total:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        "kafka": jars[-1].stem.removeprefix("kafka-server-") if jars else "unknown",
        "faust-streaming": importlib.metadata.version("faust-streaming"),
        "aiokafka": importlib.metadata.version("aiokafka"),
        "redis-py": importlib.metadata.version("redis"),
    }


async def redis_facts(base: Settings) -> dict[str, str]:
    """Redis's version, and what it holds before the run: other data is not measured, but it
    slows what walks or copies the whole keyspace (SCAN, AOF rewrites)."""
    client = connect_redis(base.redis_url.get_secret_value())
    try:
        server, memory = await client.info("server"), await client.info("memory")
        return {
            "redis": str(server["redis_version"]),
            "keys": str(await client.dbsize()),
            "redis_memory": f"{int(memory['used_memory']) / 2**20:,.1f} MiB",
        }
    finally:
        await client.aclose()


def _f(value: float | int | None, fmt: str = ",.0f", unit: str = "") -> str:
    return "n/a" if value is None else f"{value:{fmt}}{unit}"


def _ms(value: float | int | None) -> str:
    return "n/a" if value is None else f"{value * 1000:,.1f} ms"


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def render(r: Results, info: dict[str, str], quick: bool) -> str:
    """The generated part of docs/benchmarks.md."""
    sc, lat = r.scale, r.latency
    pipe, ceil, naive = r.pipeline_rate, r.ceiling_rate, r.naive_rate
    p99 = lat.get("published_p99")
    memory = r.memory_per_account_model
    phase_seconds = {
        "drain": r.pipeline_seconds,
        "latency": sc.latency_seconds,
        "rescoring": r.rescore_seconds,
    }
    lines = [
        BEGIN,
        f"Run: {datetime.datetime.fromtimestamp(r.started, datetime.UTC):%Y-%m-%d %H:%M} UTC, "
        f"`tests/bench/bench_pipeline.py{' --quick' if quick else ''}`: "
        f"{sc.accounts:,} accounts, {r.events_in_topic:,} events, {len(MODELS_IDS)} models "
        f"({', '.join(MODELS_IDS)}).",
        "",
        f"Machine: {info['cores']} cores ({info['cpu']}), {info['memory']} memory, "
        f"{info['os']}; 1-minute load average before the run {info['load']} (other work on the "
        f"same cores shows here); Redis before the run: {int(info['keys']):,} keys, "
        f"{info['redis_memory']} used.",
        f"Versions: Python {info['python']}, Kafka {info['kafka']}, Redis {info['redis']}, "
        f"faust-streaming {info['faust-streaming']}, aiokafka {info['aiokafka']}, "
        f"redis-py {info['redis-py']}.",
        "",
        "| # | figure | measured | target | verdict |",
        "| --- | --- | --- | --- | --- |",
        f"| 1 | ceiling: raw aiokafka consumption | {_f(ceil)} events/s | | |",
        f"| 2 | naive per-event design ({r.naive_events:,} events, {r.naive_changes:,} "
        f"tier changes) | {_f(naive)} events/s | | |",
        f"| 3 | pipeline, one worker, sustained (10%..90% of the topic) | {_f(pipe)} events/s | "
        f">= {_f(ceil and ceil / 2)} (half the ceiling) | "
        f"{_verdict(None if pipe is None or ceil is None else pipe >= ceil / 2)} |",
        f"| 3 | pipeline vs naive | {_f(pipe and naive and pipe / naive, '.1f', 'x')} | >= 5x | "
        f"{_verdict(None if pipe is None or not naive else pipe >= 5 * naive)} |",
        f"| 3 | pipeline, first applied to all applied | {_f(r.pipeline_overall)} events/s "
        f"({_f(r.pipeline_seconds, '.1f', ' s')}) | | |",
        f"| 3 | Redis CPU per event | {_f(r.redis_cpu_us_per_event, '.1f', ' µs')} | | |",
        f"| 3 | worker CPU per event | {_f(r.worker_cpu_us_per_event, '.1f', ' µs')} | | |",
        f"| 4 | offered load, sustained | {_f(lat.get('sustained_offer'))} events/s offered, "
        f"{_f(lat.get('applied_rate'))} applied ({_f(lat.get('sent'))} events, "
        f"{_f(lat.get('changes'))} score changes) | {OFFERED_RATE:,.0f} events/s for "
        f"{sc.latency_seconds:.0f} s | |",
        f"| 4 | produce -> state applied p50 / p95 / p99 | {_ms(lat.get('applied_p50'))} / "
        f"{_ms(lat.get('applied_p95'))} / {_ms(lat.get('applied_p99'))} | | |",
        f"| 4 | produce -> score change published p50 / p95 / p99 | "
        f"{_ms(lat.get('published_p50'))} / {_ms(lat.get('published_p95'))} / {_ms(p99)} | "
        f"p99 <= 100 ms | {_verdict(None if p99 is None else p99 <= 0.1)} |",
        f"| 4 | score changes over 100 ms to published / of which while Redis ran an AOF rewrite "
        f"(or up to {REWRITE_AFTERMATH_SECONDS:.1f} s after) | "
        f"{_f(lat.get('published_over_100ms'))} / "
        f"{_f(lat.get('published_over_100ms_near_rewrite'))} | | |",
        f"| 4 | worker histograms: event_to_applied p50 / p95 / p99 | "
        f"{_ms(lat.get('hist_applied_p50'))} / {_ms(lat.get('hist_applied_p95'))} / "
        f"{_ms(lat.get('hist_applied_p99'))} | | |",
        f"| 4 | worker histograms: ingest_to_published p50 / p95 / p99 | "
        f"{_ms(lat.get('hist_published_p50'))} / {_ms(lat.get('hist_published_p95'))} / "
        f"{_ms(lat.get('hist_published_p99'))} | | |",
        f"| 4 | worker histograms: batch_seconds p50 / p95 / p99 | "
        f"{_ms(lat.get('hist_batch_p50'))} / {_ms(lat.get('hist_batch_p95'))} / "
        f"{_ms(lat.get('hist_batch_p99'))} | | |",
        f"| 4 | worker histograms: publish_seconds (broker's ack) p50 / p95 / p99 | "
        f"{_ms(lat.get('hist_publish_p50'))} / {_ms(lat.get('hist_publish_p95'))} / "
        f"{_ms(lat.get('hist_publish_p99'))} | | |",
        f"| 5 | Redis memory per account and model (all state) | "
        f"{_f(r.memory_per_account_model, ',.0f', ' B')} | <= 300 B | "
        f"{_verdict(None if memory is None else memory <= 300)} |",
        f"| 5 | of which after the profiles alone | "
        f"{_f(r.memory_profiles_only, ',.0f', ' B')} | | |",
        f"| 5 | worker RSS after the run / peak | {_f(r.worker_rss_mb, ',.0f', ' MiB')} / "
        f"{_f(r.worker_hwm_mb, ',.0f', ' MiB')} | | |",
        f"| 6 | replay of the scoring core (whole replay, one core) | {_f(r.replay_rate)} "
        f"events/s | | |",
        f"| 6 | rescoring after a model version change | {_f(r.rescore_rate)} accounts/s "
        f"({_f(r.rescore_seconds, '.1f', ' s')} after the worker owned its partitions, "
        f"{_f(r.rescore_start_seconds, '.1f', ' s')} start-up) | >= 20,000 accounts/s | "
        f"{_verdict(None if r.rescore_rate is None else r.rescore_rate >= 20_000)} |",
        f"| 6 | rescoring: worker / Redis CPU per account (accounts/s one core allows) | "
        f"{_f(r.rescore_worker_cpu_us, '.1f', ' µs')} / "
        f"{_f(r.rescore_redis_cpu_us, '.1f', ' µs')} "
        f"({_f(None if not r.rescore_worker_cpu_us else 1e6 / r.rescore_worker_cpu_us)} "
        f"accounts/s) | | |",
        "",
        "Redis's AOF rewrites (appendonly, everysec; each forks Redis and runs a child on the "
        "same cores, whose CPU `INFO cpu` counts apart from the Redis CPU per event above):",
        "",
        "| phase | rewrites | children's CPU | share of a core over the phase |",
        "| --- | --- | --- | --- |",
        *(
            f"| {phase} | {done.count} | {done.children_cpu:.1f} s | "
            f"{_f(seconds and done.children_cpu / seconds, '.0%')} |"
            for phase, done, seconds in (
                (phase, done, phase_seconds.get(phase)) for phase, done in r.rewrites.items()
            )
        ),
        "",
        "Redis memory per account (a sample of 300 accounts):",
        "",
        "| part | bytes |",
        "| --- | --- |",
        *(f"| {name} | {value:,.0f} |" for name, value in r.memory_breakdown.items()),
        "",
        f"Profile of the worker (py-spy, 100 Hz, {r.profile_samples:,} samples while it drained "
        f"{sc.profile_events:,} fresh events); share of the samples:",
        "",
        "| on top of the stack (self) | share |",
        "| --- | --- |",
        *(f"| `{name}` | {share:.1%} |" for name, share in r.profile_self),
        "",
        "| our functions, anywhere in the stack (total) | share |",
        "| --- | --- |",
        *(f"| `{name}` | {share:.1%} |" for name, share in r.profile_total),
        "",
        "Replay bench output:",
        "",
        "```",
        r.replay_text.strip(),
        "```",
        *(f"\nNote: {note}" for note in r.notes),
        END,
    ]
    return "\n".join(lines) + "\n"


MODELS_IDS: list[str] = []


def write_doc(path: Path, generated: str) -> None:
    """Replaces the generated block of `path` (between the markers), keeping the rest."""
    if path.exists() and BEGIN in (text := path.read_text()) and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        path.write_text(head + generated.rstrip("\n") + tail)
    else:
        path.write_text("# Benchmarks\n\n" + generated)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x less work, a few minutes")
    parser.add_argument(
        "--out",
        type=Path,
        help="Markdown file to update (default: docs/benchmarks.md, "
        "not written with --quick unless given)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's topics and keys")
    args = parser.parse_args(argv)
    base = Settings()
    scale = QUICK if args.quick else FULL
    MODELS_IDS.extend(m.id for m in load_model_files([MODELS]))
    load_before = os.getloadavg()[0]  # what else ran on the machine (the stack idles near 0)
    redis_before = asyncio.run(redis_facts(base))
    if int(redis_before["keys"]) > 0:
        print(
            f"bench: Redis already holds {int(redis_before['keys']):,} keys; the rescoring's SCAN "
            "walks them and Redis's AOF rewrites copy them, so they count in the figures",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        results = asyncio.run(run(base, scale, Path(tmp), args.keep))
    info = machine() | {"load": f"{load_before:.2f}"} | redis_before
    generated = render(results, info, args.quick)
    print(generated)
    out = args.out or (None if args.quick else DOC)
    if out is not None:
        write_doc(out, generated)
        print(f"bench: wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
