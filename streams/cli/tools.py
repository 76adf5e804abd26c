"""Operator tools around the live topics and state: produce, export, changes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from scoring.engine import Engine
from scoring.model import Model
from streams.progress import Progress
from streams.runtime.metrics import Metrics
from streams.runtime.pipeline import Pipeline
from streams.runtime.worker import EVENTS, PROFILES, SCORE_CHANGES
from streams.settings import Settings
from streams.store.client import connect_redis
from streams.store.state_store import StateStore


@dataclass(slots=True)
class ProduceSummary:
    sent: int = 0
    bad_lines: int = 0

    def line(self, what: str) -> str:
        return f"produce: {self.sent:,} {what} sent, {self.bad_lines:,} bad lines skipped"


def message_key(body: object, kind: str) -> bytes | None:
    """Events are keyed by account_id, or by domain when the producer knows no account;
    profiles by account_id. None when the line names neither (it is skipped)."""
    if not isinstance(body, dict):
        return None
    account_id = body.get("account_id")
    if isinstance(account_id, str) and account_id:
        return account_id.encode()
    domain = body.get("domain")
    if kind == "events" and isinstance(domain, str) and domain:
        return domain.lower().encode()
    return None


async def produce(settings: Settings, path: Path, kind: str, errors: TextIO) -> ProduceSummary:
    """Sends every JSON line of `path` to the events or profiles topic, keyed right, in order
    per key (an idempotent producer, so retries keep the order)."""
    topic = settings.topic(EVENTS if kind == "events" else PROFILES)
    summary = ProduceSummary()
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
    )
    await producer.start()
    progress = Progress(f"produce {kind}", path.stat().st_size)
    done = 0
    try:
        pending = []
        with path.open("rb") as handle:
            for number, line in enumerate(handle, start=1):
                done += len(line)
                progress.update(done, number)
                if not line.strip():
                    continue
                try:
                    key = message_key(orjson.loads(line), kind)
                except orjson.JSONDecodeError:
                    key = None
                if key is None:
                    summary.bad_lines += 1
                    errors.write(
                        f"{path}:{number}: not a JSON object with an account_id"
                        f"{' or domain' if kind == 'events' else ''}; skipped\n"
                    )
                    continue
                pending.append(await producer.send(topic, line.rstrip(b"\r\n"), key=key))
                summary.sent += 1
                if len(pending) >= 10_000:
                    await asyncio.gather(*pending)
                    pending.clear()
        await asyncio.gather(*pending)
        progress.close(summary.sent + summary.bad_lines)
    finally:
        await producer.stop()
    return summary


async def export(
    settings: Settings, models: tuple[Model, ...], out: Path, as_of: float | None
) -> int:
    """Writes every account's scores from Redis in `scorer replay --out`'s line format.

    With `as_of`, each account is evaluated (not written back) at the later of `as_of` and its
    clock, cause `decay`, exactly as the replay does. Returns the number of accounts.
    """
    engine = Engine(models, dedupe_window=settings.dedupe_window)
    client = connect_redis(settings.redis_url.get_secret_value())
    store = StateStore(client, settings.key_prefix)
    pipeline = Pipeline(engine, store, _NoPublisher(), Metrics(), max_future_skew=0)
    lines: list[tuple[str, str, bytes]] = []
    listed: set[tuple[int, str]] = set()
    try:
        cursor = 0
        while True:
            cursor, found = await store.account_ids(cursor, 1000)
            by_partition: dict[int, list[str]] = {}
            for partition, account_id in found:
                if (partition, account_id) not in listed:  # SCAN may return a hash twice
                    listed.add((partition, account_id))
                    by_partition.setdefault(partition, []).append(account_id)
            for partition, account_ids in by_partition.items():
                states = await pipeline.load(partition, account_ids)
                for account_id, state in states.items():
                    if as_of is not None:
                        engine.evaluate(state, max(as_of, state.clock), "decay")
                    written = engine.score_lines(state).splitlines(keepends=True)
                    for model, line in zip(engine.models, written, strict=True):
                        lines.append((account_id, model.id, line))
            if cursor == 0:
                break
    finally:
        await client.aclose()
    lines.sort(key=lambda item: (item[0], item[1]))
    with out.open("wb") as handle:
        for _, _, line in lines:
            handle.write(line)
    return len({account_id for account_id, _, _ in lines})


async def changes(settings: Settings, out: Path, idle: float) -> int:
    """Copies the score-change topic, from its start, to JSON lines (one message per line, in
    partition order), stopping after `idle` seconds without a message. Returns the count."""
    topic = settings.topic(SCORE_CHANGES)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    count = 0
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(settings.topic_partitions)])
        with out.open("wb") as handle:
            while True:
                batches = await consumer.getmany(timeout_ms=int(idle * 1000))
                if not batches:
                    break
                for records in batches.values():
                    for record in records:
                        handle.write(record.value + b"\n")
                        count += 1
    finally:
        await consumer.stop()
    return count


class _NoPublisher:
    """Export only reads; nothing is ever published."""

    async def publish(self, messages: object) -> None:
        raise AssertionError("export never publishes")
