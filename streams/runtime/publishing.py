"""Sending outbox messages to Kafka: what the pipeline needs of a publisher, and the faust one."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from streams.runtime.messages import Destination, Outgoing

if TYPE_CHECKING:  # the pipeline needs only `Publisher`: no faust for tools and tests
    import faust


class Publisher(Protocol):
    """Sends messages to Kafka and returns once the broker has acknowledged all of them."""

    async def publish(self, messages: Sequence[Outgoing]) -> None: ...


class FaustPublisher:
    """Publishes outbox messages with the app's producer; returns when all are acknowledged."""

    def __init__(self, app: faust.App, topics: Mapping[Destination, str]) -> None:
        self.app = app
        self.topics = topics

    async def publish(self, messages: Sequence[Outgoing]) -> None:
        pending = [
            await self.app.producer.send(
                self.topics[m.destination], m.key, m.value, None, None, list(m.headers)
            )
            for m in messages
        ]
        await asyncio.gather(*pending)
