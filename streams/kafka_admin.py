"""Small Kafka look-ups shared by the operator tools, the end-to-end tests and the benchmarks."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition


async def end_offsets(bootstrap: str, topic: str, partitions: int) -> dict[int, int]:
    """The next offset to be written, per partition of `topic`."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return {tp.partition: offset for tp, offset in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def wait_for_topics(bootstrap: str, topics: Sequence[str], timeout: float = 60) -> None:
    """Returns once every topic exists (workers declare theirs at start); TimeoutError after
    `timeout` seconds."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if set(topics) <= set(await admin.list_topics()):
                return
            await asyncio.sleep(0.3)
        raise TimeoutError(f"topics {list(topics)} not created within {timeout}s")
    finally:
        await admin.close()
