"""`scorer produce`: send JSON-lines profiles and events to the input topics, keyed right."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import orjson
from aiokafka import AIOKafkaProducer

from streams.progress import Progress
from streams.runtime.topics import EVENTS, PROFILES
from streams.settings import Settings


def run(args: argparse.Namespace) -> int:
    settings = Settings()
    for path, kind in ((args.profiles, "profiles"), (args.events, "events")):
        if path is not None:
            summary = asyncio.run(produce(settings, path, kind, sys.stderr))
            print(summary.line(kind), file=sys.stderr)
    return 0


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
        with progress, path.open("rb") as handle:
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
