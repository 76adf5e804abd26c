"""Smoke tests that prove the local stack: real Kafka, real Redis, a real faust worker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[2]


async def consume(
    bootstrap: str, topic: str, count: int, timeout: float
) -> list[tuple[bytes, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    received: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout):
            async for message in consumer:
                received.append((message.key, message.value))
                if len(received) == count:
                    break
    finally:
        await consumer.stop()
    return received


@pytest.mark.kafka
async def test_kafka_produce_consume_round_trip(kafka_bootstrap: str, make_topic) -> None:
    topic = await make_topic("round-trip", partitions=2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for i in range(10):
            await producer.send_and_wait(topic, key=b"acct-%d" % (i % 3), value=b"event-%d" % i)
    finally:
        await producer.stop()

    received = await consume(kafka_bootstrap, topic, 10, timeout=30)

    assert sorted(value for _, value in received) == sorted(b"event-%d" % i for i in range(10))
    # Keyed messages keep their per-key order.
    per_key = [value for key, value in received if key == b"acct-0"]
    assert per_key == [b"event-0", b"event-3", b"event-6", b"event-9"]


@pytest.mark.redis
async def test_redis_round_trip_through_lua(redis_client) -> None:
    client, prefix = redis_client
    # Hash-tagged keys so the script stays in one slot of a Redis Cluster.
    state, offsets = f"{{{prefix}}}:state", f"{{{prefix}}}:offsets"
    script = client.register_script(
        """
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
        redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
        return {redis.call('HGET', KEYS[1], ARGV[1]), redis.call('HLEN', KEYS[2])}
        """
    )

    result = await script(keys=[state, offsets], args=["acct-1", b"\x00\x01state", "p0", 42])

    assert result == [b"\x00\x01state", 1]
    assert await client.hget(offsets, "p0") == b"42"


@pytest.mark.kafka
@pytest.mark.slow
async def test_faust_worker_of_the_project_app_forwards(
    kafka_bootstrap: str, make_topic, test_id: str, free_port: int, tmp_path: Path
) -> None:
    source = await make_topic("source")
    sink = await make_topic("sink")
    env = {
        **os.environ,
        "APP_ID": f"test-{test_id}-app",
        "KAFKA_BOOTSTRAP": kafka_bootstrap,
        "WEB_PORT": str(free_port),
        "SMOKE_SOURCE": source,
        "SMOKE_SINK": sink,
    }
    log_path = tmp_path / "worker.log"
    log = log_path.open("wb")
    worker = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "tests/integration/forwarding_worker.py"),
            "worker",
            "-l",
            "info",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            for i in range(5):
                await producer.send_and_wait(source, key=b"k", value=b"m%d" % i)
        finally:
            await producer.stop()

        received = await consume(kafka_bootstrap, sink, 5, timeout=90)

        assert [value for _, value in received] == [b"forwarded:m%d" % i for i in range(5)]
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()
    output = log_path.read_text(errors="replace")
    assert "Traceback" not in output, output[-3000:]
