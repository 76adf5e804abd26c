"""`scorer changes`: copy the score-change topic, from its start, to JSON lines."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from streams.runtime.topics import SCORE_CHANGES
from streams.settings import Settings


def run(args: argparse.Namespace) -> int:
    count = asyncio.run(changes(Settings(), args.out, args.idle))
    print(f"changes: {count:,} score changes written to {args.out}", file=sys.stderr)
    return 0


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
