"""The project's Kafka topics: their names, their configs, the faust topics of a worker, and the
partition of an account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from aiokafka.partitioner import murmur2

from streams.runtime.messages import Destination
from streams.settings import Settings

EVENTS = "account-events"
PROFILES = "account-profiles"
SCORE_CHANGES = "account-score-changes"
DEAD_LETTERS = "account-events-dlq"

SOURCES = {EVENTS: "events", PROFILES: "profiles"}
"""Input topic -> the source name its applied offsets are kept under in the store."""


def account_partition(account_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a message keyed by `account_id`."""
    return int(murmur2(account_id.encode()) & 0x7FFFFFFF) % partitions


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Every topic of the project with its configs (profiles are compacted: latest per account)."""
    return {
        settings.topic(EVENTS): {},
        settings.topic(PROFILES): {"cleanup.policy": "compact"},
        settings.topic(SCORE_CHANGES): {},
        settings.topic(DEAD_LETTERS): {},
    }


def destination_topics(settings: Settings) -> dict[Destination, str]:
    """The full topic name of each outbox destination."""
    return {
        Destination.SCORE_CHANGES: settings.topic(SCORE_CHANGES),
        Destination.DEAD_LETTERS: settings.topic(DEAD_LETTERS),
        Destination.EVENTS: settings.topic(EVENTS),
        Destination.PROFILES: settings.topic(PROFILES),
    }


@dataclass(frozen=True, slots=True)
class WorkerTopics:
    """The faust topics of a worker: the two it consumes, the two it only writes."""

    events: Any
    profiles: Any
    outputs: tuple[Any, ...]
    sources: dict[str, str]  # full name of an input topic -> its source name (`SOURCES`)


def worker_topics(app: faust.App, settings: Settings) -> WorkerTopics:
    """Declares the worker's topics on `app`. The input topics are `acks=False`: faust never
    commits their offsets on its own (the worker's module docstring says why)."""
    # internal=True: faust creates the topic when it is missing (with these partitions and
    # settings) and leaves an existing one as it is.
    raw = {"value_serializer": "raw", "key_serializer": "raw", "internal": True}
    partitions = settings.topic_partitions
    return WorkerTopics(
        events=app.topic(settings.topic(EVENTS), partitions=partitions, acks=False, **raw),
        profiles=app.topic(
            settings.topic(PROFILES), partitions=partitions, acks=False, compacting=True, **raw
        ),
        outputs=(
            app.topic(settings.topic(SCORE_CHANGES), partitions=partitions, **raw),
            app.topic(settings.topic(DEAD_LETTERS), partitions=partitions, **raw),
        ),
        sources={settings.topic(name): source for name, source in SOURCES.items()},
    )
