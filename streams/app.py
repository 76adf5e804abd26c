"""The faust application, built from `Settings`. Agents stay thin: they call plain functions."""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.settings import Settings


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):  # type: ignore[misc]  # faust is Any to mypy
    """faust's consumer thread, with the broker's fetch wait from `Settings`.

    faust-streaming 0.15 creates its aiokafka consumer with `fetch_max_wait_ms=1500` and no
    setting. aiokafka keeps one fetch in flight per broker and leaves out of it the partitions
    whose fetched messages are still buffered, so while the worker is busy the fetch often names
    only quiet partitions (the profiles topic) and the broker holds it for the whole wait: the
    busy events partitions cannot be fetched again meanwhile. With 100,000 accounts at 5,000
    events/s the worker sat idle for up to a second at a time with seconds of events waiting in
    Kafka; this wait is one of the causes measured in docs/benchmarks.md.

    It also sets the bytes the broker gathers before it answers (`fetch_min_bytes`, which
    faust leaves at aiokafka's 1): with 1 byte and a short wait, a steady load was fetched a few
    messages at a time, and those fetches cost the worker ~20% of its CPU and the broker ~30%
    of its own (docs/benchmarks.md). The broker answers at the wait at the latest.
    """

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read when the consumer starts (aiokafka 0.14 hands them to its Fetcher in start()).
        consumer._fetch_max_wait_ms = round(self.app.fetch_max_wait * 1000)
        consumer._fetch_min_bytes = self.app.fetch_min_bytes
        return consumer


class _Consumer(faust_aiokafka.Consumer):  # type: ignore[misc]  # faust is Any to mypy
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):  # type: ignore[misc]  # faust is Any to mypy
    Consumer = _Consumer


class ScorerApp(faust.App):  # type: ignore[misc]  # faust is Any to mypy
    """A faust app whose Kafka consumer fetches at least `fetch_min_bytes` or waits at most
    `fetch_max_wait` seconds per fetch, and without faust's per-message monitor."""

    def __init__(
        self, app_id: str, *, fetch_max_wait: float, fetch_min_bytes: int, **options: Any
    ) -> None:
        self.fetch_max_wait = fetch_max_wait
        self.fetch_min_bytes = fetch_min_bytes
        super().__init__(app_id, **options)

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)

    def on_init_dependencies(self) -> Any:
        """faust's services, without its `Monitor` sensor.

        The monitor keeps faust's own statistics (shown only by its debug web pages) with
        bookkeeping on every message; it cost ~7 µs of the framework's ~70 µs per event
        (docs/benchmarks.md). The worker's Prometheus metrics (`streams.metrics`) are what an
        SRE reads.
        """
        services = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return services


def create_app(settings: Settings, **overrides: object) -> ScorerApp:
    """A faust app wired to the configured Kafka, with the project's defaults.

    Offsets start at the earliest message for a new consumer group: a new deployment scores the
    history the topic still holds rather than silently skipping it. `overrides` are passed to
    faust as they are (tests use them for the web port).
    """
    options: dict[str, object] = {
        "broker": settings.kafka_broker_url,
        "store": "memory://",
        "datadir": settings.data_dir / f"{settings.app_id}-data",
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
    return ScorerApp(
        settings.app_id,
        fetch_max_wait=settings.kafka_fetch_max_wait,
        fetch_min_bytes=settings.kafka_fetch_min_bytes,
        **options,
    )
