"""Shared fixtures. Tests that touch Kafka or Redis must say so with a marker.

`@pytest.mark.kafka` / `@pytest.mark.redis` declare the real services a test uses; the fixtures
below refuse to serve a test that did not declare them. Each test gets its own topic names and
Redis key prefix, so tests never see each other's data. When a service does not answer, the test
is skipped on a developer's machine (with how to start it) and FAILS in CI (`CI=true`).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest
import redis.asyncio as aioredis

from streams.settings import Settings
from streams.store.client import connect_redis

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def _require(request: pytest.FixtureRequest, marker: str, host: str, port: int) -> None:
    if request.node.get_closest_marker(marker) is None:
        pytest.fail(f"this test uses {marker} but is not marked @pytest.mark.{marker}")
    if not _answers(host, port):
        message = f"{marker} does not answer on {host}:{port}: start the local stack with `make up`"
        if IN_CI:
            pytest.fail(message + " (CI=true: integration tests never skip)")
        pytest.skip(message)


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture
def test_id() -> str:
    """A short id unique to this test: the root of its topic names and key prefix."""
    return uuid.uuid4().hex[:12]


@pytest.fixture
def kafka_bootstrap(request: pytest.FixtureRequest, settings: Settings) -> str:
    _require(request, "kafka", *settings.kafka_endpoint())
    return settings.kafka_bootstrap


@pytest.fixture
async def redis_client(
    request: pytest.FixtureRequest, settings: Settings, test_id: str
) -> AsyncIterator[tuple[aioredis.Redis, str]]:
    """A client of the real Redis and this test's own key prefix; its keys are removed after."""
    _require(request, "redis", *settings.redis_endpoint())
    client = connect_redis(settings.redis_url.get_secret_value())
    prefix = f"test-{test_id}"
    try:
        yield client, prefix
    finally:
        async for key in client.scan_iter(match=f"*{prefix}*", count=1000):
            await client.delete(key)
        await client.aclose()


TopicFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def make_topic(kafka_bootstrap: str, test_id: str) -> AsyncIterator[TopicFactory]:
    """Creates topics named after this test (`test-<id>-<name>`) and deletes them after."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    created: list[str] = []

    async def create(name: str, partitions: int = 1) -> str:
        topic = f"test-{test_id}-{name}"
        await admin.create_topics([NewTopic(topic, partitions, 1)])
        created.append(topic)
        return topic

    try:
        yield create
    finally:
        if created:
            await admin.delete_topics(created)
        await admin.close()


@pytest.fixture
def free_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port
