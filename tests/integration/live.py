"""Drives real `scorer worker` processes against the real Kafka and Redis, for end-to-end tests.

Each `LiveRun` has its own topic prefix, key prefix, consumer group and HTTP ports, so runs never
see each other's data.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from streams.model_files import load_model_files
from streams.runtime.kafka_admin import end_offsets
from streams.runtime.processes import stop_gracefully
from streams.runtime.topics import DEAD_LETTERS, EVENTS, PROFILES, SCORE_CHANGES
from streams.runtime.worker import Worker
from streams.settings import Settings
from streams.store.client import connect_redis
from streams.store.keys import PartitionKeys

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "deploy/models"


def in_process_worker(test_id: str, partitions: int) -> Worker:
    """A `Worker` of this test's own topics, keys and group, not started: tests call its
    handlers directly (only its Redis client connects, on first use; close it after)."""
    settings = Settings(
        topic_prefix=f"test-{test_id}.",
        key_prefix=f"test-{test_id}",
        app_id=f"test-{test_id}-scorer",
        topic_partitions=partitions,
    )
    return Worker(settings, load_model_files([str(MODELS)]))


def get(port: int, path: str) -> tuple[int, bytes]:
    """A worker's HTTP answer to GET `path`: status and body, error statuses included."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


async def healthy(port: int, timeout: float = 60) -> None:
    """Waits until the worker on `port` answers /healthz with 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if get(port, "/healthz")[0] == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise AssertionError("the worker never became healthy")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def owned_by(port: int) -> list[int] | None:
    """The partitions the worker serving `port` owns now (its /healthz, 503 when it owns
    none); None while its web server does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as reply:
            return list(orjson.loads(reply.read())["partitions"])
    except urllib.error.HTTPError as err:
        return list(orjson.loads(err.read())["partitions"])
    except OSError:
        return None


@dataclass
class LiveRun:
    """One isolated deployment: settings, worker processes and their logs."""

    test_id: str
    workdir: Path
    partitions: int = 4
    extra_env: Mapping[str, str] = field(default_factory=dict)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    stopped: set[int] = field(default_factory=set)  # pids of workers stopped on purpose

    def __post_init__(self) -> None:
        self.env = {
            **os.environ,
            "TOPIC_PREFIX": f"test-{self.test_id}.",
            "KEY_PREFIX": f"test-{self.test_id}",
            "APP_ID": f"test-{self.test_id}-scorer",
            "TOPIC_PARTITIONS": str(self.partitions),
            "MODELS_DIR": str(MODELS),
            "DECAY_SWEEP_INTERVAL": "0",
            "BATCH_WITHIN": "0.02",
            "KAFKA_SESSION_TIMEOUT": "6",  # a SIGKILLed worker's partitions move on quickly
            **self.extra_env,
        }
        self.settings = Settings(
            topic_prefix=self.env["TOPIC_PREFIX"],
            key_prefix=self.env["KEY_PREFIX"],
            app_id=self.env["APP_ID"],
            topic_partitions=self.partitions,
        )

    def start_worker(self) -> subprocess.Popen[bytes]:
        port = free_port()
        self.ports.append(port)
        log = self.workdir / f"worker-{len(self.logs)}.log"
        self.logs.append(log)
        with log.open("wb") as handle:
            worker = subprocess.Popen(
                [sys.executable, "-m", "streams.cli", "worker", "--loglevel", "info"],
                env={**self.env, "WEB_PORT": str(port)},
                cwd=ROOT,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )
        self.workers.append(worker)
        return worker

    def kill(self, worker: subprocess.Popen[bytes]) -> None:
        worker.send_signal(signal.SIGKILL)
        worker.wait()

    def stop(self, worker: subprocess.Popen[bytes]) -> None:
        """Stops a worker the polite way (SIGTERM): it leaves the group, which rebalances.
        One stopped in the middle of a rebalance was once seen to hang in faust's shutdown
        for good; it is killed after 20 s (its partitions move on after the session timeout,
        and Redis already holds all it committed)."""
        self.stopped.add(worker.pid)
        stop_gracefully(worker, timeout=20)

    def stop_all(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()

    def owned_partitions(self) -> list[list[int] | None]:
        """The partitions each running worker owns now (`owned_by`). Owning none is possible:
        faust may give a joining worker nothing when partitions do not divide evenly."""
        return [
            owned_by(port)
            for worker, port in zip(self.workers, self.ports, strict=True)
            if worker.poll() is None
        ]

    def has_joined(self, worker: subprocess.Popen[bytes]) -> bool:
        """Whether `worker` has had an assignment (maybe an empty one), from its log."""
        log = self.logs[self.workers.index(worker)]
        return "Executing _on_partitions_assigned" in log.read_text(errors="replace")

    async def wait_joined(self, worker: subprocess.Popen[bytes], timeout: float = 60) -> None:
        """Until `worker` has had its first assignment (maybe an empty one)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.has_joined(worker):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"the worker never joined\n{self.log_tail()}")

    async def wait_settled(self, timeout: float = 60) -> None:
        """Until the group has settled on the running workers: each has joined (had an
        assignment, maybe empty) and every partition has exactly one owner."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            joined = all(self.has_joined(w) for w in self.workers if w.poll() is None)
            owned = await asyncio.to_thread(self.owned_partitions)
            every = sorted(p for ps in owned for p in ps or ())
            if joined and None not in owned and every == list(range(self.partitions)):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"the group never settled\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        parts = []
        for log in self.logs:
            text = log.read_text(errors="replace").splitlines()
            parts.append(f"--- {log.name}\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "streams.cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result

    async def wait_applied(self, source: str, timeout: float = 120) -> None:
        """Until Redis has applied every message now in the source topic and every outbox is
        published; fails with the workers' logs after `timeout`."""
        topic = self.settings.topic(EVENTS if source == "events" else PROFILES)
        client = connect_redis(self.settings.redis_url.get_secret_value())
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                # Read the ends again each time: a worker re-publishes events keyed by domain to
                # the partition of their account (through its outbox), after this wait began.
                ends = await end_offsets(self.settings.kafka_bootstrap, topic, self.partitions)
                done = True
                for partition, end in ends.items():
                    keys = PartitionKeys(self.settings.key_prefix, partition)
                    applied = await client.get(keys.offset(source))
                    if end > 0 and (applied is None or int(applied) < end - 1):
                        done = False
                    if await client.llen(keys.outbox):
                        done = False
                if done:
                    return
                # Killed (-9) or stopped (`stop`) on purpose is fine; any other exit is not.
                dead = [
                    w
                    for w in self.workers
                    if w.poll() not in (None, -9) and w.pid not in self.stopped
                ]
                if dead:
                    raise AssertionError(f"a worker exited\n{self.log_tail()}")
                await asyncio.sleep(0.2)
        finally:
            await client.aclose()
        raise AssertionError(f"{source} not applied within {timeout}s\n{self.log_tail()}")

    async def versions_rescored(self) -> set[str | None]:
        """The model versions each partition was fully rescored to (None: not yet)."""
        client = connect_redis(self.settings.redis_url.get_secret_value())
        try:
            found = set()
            for partition in range(self.partitions):
                value = await client.get(
                    PartitionKeys(self.settings.key_prefix, partition).versions
                )
                found.add(None if value is None else value.decode())
            return found
        finally:
            await client.aclose()

    async def applied_count(self, source: str) -> int:
        """How many messages of the source topic Redis has applied, over all partitions."""
        client = connect_redis(self.settings.redis_url.get_secret_value())
        try:
            total = 0
            for partition in range(self.partitions):
                keys = PartitionKeys(self.settings.key_prefix, partition)
                applied = await client.get(keys.offset(source))
                total += 0 if applied is None else int(applied) + 1
            return total
        finally:
            await client.aclose()

    async def topic_messages(
        self, name: str, idle: float = 2.0
    ) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
        """Every message of one of the run's topics, partition by partition."""
        topic = self.settings.topic(name)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        found = []
        try:
            consumer.assign([TopicPartition(topic, p) for p in range(self.partitions)])
            while True:
                batches = await consumer.getmany(timeout_ms=int(idle * 1000))
                if not batches:
                    break
                for records in batches.values():
                    found.extend((r.key, r.value, dict(r.headers)) for r in records)
        finally:
            await consumer.stop()
        return found

    async def score_changes(self) -> list[dict[str, object]]:
        return [orjson.loads(value) for _, value, _ in await self.topic_messages(SCORE_CHANGES)]

    async def dead_letters(self) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
        return await self.topic_messages(DEAD_LETTERS)


def by_change_key(
    changes: list[dict[str, object]],
) -> dict[tuple[object, object], list[dict[str, object]]]:
    """Score changes grouped by (account, model), ordered by seq, duplicates kept."""
    grouped: dict[tuple[object, object], list[dict[str, object]]] = {}
    for change in changes:
        grouped.setdefault((change["account_id"], change["model"]), []).append(change)
    for group in grouped.values():
        group.sort(key=lambda c: c["seq"])  # type: ignore[arg-type,return-value]
    return grouped
