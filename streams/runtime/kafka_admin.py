"""Small Kafka look-ups shared by the operator tools, the end-to-end tests and the benchmarks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NoReturn

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition
from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_delay, wait_fixed


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

    async def all_there() -> bool:
        return set(topics) <= set(await admin.list_topics())

    def never_there(_: RetryCallState) -> NoReturn:
        raise TimeoutError(f"topics {list(topics)} not created within {timeout}s")

    polling = AsyncRetrying(
        stop=stop_after_delay(timeout),
        wait=wait_fixed(0.3),
        retry=retry_if_result(lambda there: not there),
        retry_error_callback=never_there,
    )
    try:
        await polling(all_there)
    finally:
        await admin.close()


async def ensure_topics(
    bootstrap: str,
    topics: Mapping[str, Mapping[str, str]],
    partitions: int,
    replication_factor: int,
    timeout: float = 60,
) -> None:
    """Creates the missing topics (name -> topic configs) and returns once all of them are in
    the cluster's metadata. Run before the worker starts: faust's group leader ignores a topic
    it cannot see yet and does not rebalance when it appears, so a worker racing another one's
    topic creation would never consume it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        missing = [name for name in topics if name not in set(await admin.list_topics())]
        if missing:
            response = await admin.create_topics(
                [
                    NewTopic(name, partitions, replication_factor, topic_configs=dict(topics[name]))
                    for name in missing
                ]
            )
            for name, code, *_ in getattr(response, "topic_errors", ()):
                # 36: TOPIC_ALREADY_EXISTS, another worker was faster; anything else is real.
                if code not in (0, 36):
                    raise RuntimeError(f"Kafka refused to create topic {name}: error code {code}")
    finally:
        await admin.close()
    await wait_for_topics(bootstrap, list(topics), timeout)


async def delete_topics_with_prefix(bootstrap: str, *prefixes: str) -> None:
    """Deletes every topic whose name starts with one of `prefixes` (a run's own topics)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(prefixes)]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()
