"""The faust application, built from `Settings`. Agents stay thin: they call plain functions."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import faust
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka

from streams.runtime import records
from streams.runtime.http_auth import bearer_auth
from streams.runtime.messages import MAX_MESSAGE_BYTES
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
    """faust's consumer, delivering each fetched message without four tasks per message, and
    fetching again soon while a full stream buffer holds a partition back.

    faust-streaming 0.15.3's fetch loop (`Consumer._drain_messages`) hands every message to the
    streams through mode's `Service.wait_first(delivery, suspend_flow.wait())`, which wraps the
    delivery, the flow's suspension and the service's stopped and crashed events in four tasks,
    waits for the first and cancels the rest: ~16 µs per message, a quarter of the framework's
    floor (docs/benchmarks.md). `_deliver` keeps the contract at one task per message: the
    delivery still runs in a task of its own, and one long-lived watcher cancels it when the flow
    is suspended or the consumer stops or crashes, as `wait_first` would (which still delivers
    while the flow is suspended or the consumer stopped).
    """

    _n_acked: int  # faust's count of acknowledged messages, reset by its fetch loop
    _delivering: asyncio.Task[Any] | None = None
    _interrupted: asyncio.Task[Any] | None = None
    _delivery_watcher: asyncio.Future[Any] | None = None

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def _interrupting(self) -> bool:
        return bool(self.suspend_flow.is_set() or self._stopped.is_set() or self._crashed.is_set())

    async def _deliver(self, delivery: Coroutine[Any, Any, Any]) -> None:
        """Run one message's delivery to its end, or until the flow is suspended or the
        consumer stops or crashes (then it is cancelled, as faust's `wait_first` does).

        Unlike `wait_first`, the fetch loop waits for a cancelled delivery to end: faust's
        (the conductor's `on_message`, the stream's queue) never holds on to a cancellation."""
        if self._interrupting():
            await self.wait_first(delivery, self.suspend_flow.wait())  # faust's own, rare
            return
        watcher = self._delivery_watcher
        if watcher is None or watcher.done():
            self._delivery_watcher = asyncio.ensure_future(self._watch_deliveries())
        current = asyncio.current_task()
        # Cancellations of the fetch loop itself so far: one more while it waits is not ours.
        cancelled_before = current.cancelling() if current is not None else 0
        task = self._delivering = asyncio.ensure_future(delivery)
        try:
            await task
        except asyncio.CancelledError:
            if self._interrupted is not task or (
                current is not None and current.cancelling() > cancelled_before
            ):
                raise
        finally:
            self._delivering = self._interrupted = None

    async def _watch_deliveries(self) -> None:
        """Cancel the delivery in progress once the flow is suspended or the consumer stops."""
        # Still so when this runs: a flow suspended and resumed before leaves the delivery alone.
        while not self._interrupting():
            await self.wait_first(self.suspend_flow.wait())
        task = self._delivering
        if task is not None and not task.done():
            self._interrupted = task
            task.cancel()

    async def _drain_messages(self, fetcher: Any) -> None:
        """faust-streaming 0.15.3's fetch loop, step for step, but for `_deliver` and a short
        fetch while a partition is held back."""
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set

        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        set_flag = self.diag.set_flag
        unset_flag = self.diag.unset_flag
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for

        yield_every = 100
        num_since_yield = 0
        sleep = asyncio.sleep
        held_back_timeout = min(self.app.fetch_max_wait, 1.0)

        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                set_flag(CONSUMER_FETCHING)
                # faust waits up to 1 s for the partitions not held back by a full stream
                # buffer; one that comes back meanwhile waits with it (the profiles partitions,
                # quiet, were all it fetched for 40% of a backlog's drain: docs/benchmarks.md).
                # With every partition held back faust sleeps its second (`_wait_next_records`).
                held_back = self._buffered_partitions  # faust's: their stream buffer is full
                ait = getmany(timeout=held_back_timeout if held_back else 1.0)

                # faust: getmany may be called in a loop never releasing to the event loop
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in ait:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await sleep(0)
                            num_since_yield = 0

                        offset = message.offset
                        r_offset = get_read_offset(tp)
                        if r_offset is None or offset >= r_offset:
                            gap = offset - (r_offset or 0)
                            if gap > 1 and r_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, r_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            await self._deliver(callback(message))
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev(
                                "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                                offset,
                                message.key,
                                message.value,
                            )
                    unset_flag(CONSUMER_FETCHING)

        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            unset_flag(CONSUMER_FETCHING)


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
        (docs/benchmarks.md). The worker's Prometheus metrics (`streams.runtime.metrics`) are what
        an SRE reads.
        """
        services = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return services


def create_app(settings: Settings, **overrides: object) -> ScorerApp:
    """A faust app wired to the configured Kafka, with the project's defaults.

    Offsets start at the earliest message for a new consumer group: a new deployment scores the
    history the topic still holds rather than silently skipping it. `overrides` are passed to
    faust as they are (tests use them for the web port). Its consumer reads records whose
    header names are not UTF-8 (`streams.runtime.records`); its producer sends messages of up
    to `MAX_MESSAGE_BYTES`, which dead letters are cut to fit.
    """
    records.install()
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
        "web_application_options": {"middlewares": [bearer_auth(settings)]},
        "autodiscover": False,
        "producer_acks": -1,
        "producer_max_request_size": MAX_MESSAGE_BYTES,
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
