"""The faust application, built from `Settings`. Agents stay thin: they call plain functions."""

from __future__ import annotations

import faust

from streams.settings import Settings


def create_app(settings: Settings, **overrides: object) -> faust.App:
    """A faust app wired to the configured Kafka, with the project's defaults.

    Offsets start at the earliest message for a new consumer group: a new deployment scores the
    history the topic still holds rather than silently skipping it. `overrides` are passed to
    faust as they are (tests use them for the web port).
    """
    options: dict[str, object] = {
        "broker": settings.kafka_broker_url,
        "store": "memory://",
        "topic_partitions": settings.topic_partitions,
        "topic_replication_factor": settings.topic_replication_factor,
        "consumer_auto_offset_reset": "earliest",
        "web_bind": settings.web_host,
        "web_host": settings.web_host,
        "web_port": settings.web_port,
        "autodiscover": False,
        "producer_acks": -1,
        "broker_session_timeout": settings.kafka_session_timeout,
        "broker_heartbeat_interval": settings.kafka_session_timeout / 10,
    }
    options.update(overrides)
    return faust.App(settings.app_id, **options)
