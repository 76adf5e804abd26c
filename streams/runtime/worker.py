"""The faust worker: thin agents, timers and signals wired to the pipeline and its helpers.

Offsets: the input topics are declared with `acks=False`, so faust never commits their offsets
on its own (its commit bookkeeping can skip or repeat: faust-streaming #606, #502). Redis holds
the applied offset of every partition, written in the same atomic call as the state; after
each batch the worker also commits that offset to Kafka, as a hint where to resume
(`streams.runtime.hints`). The hint is never ahead of Redis, and every batch drops what Redis
says is applied, so a crash or a rebalance at any moment loses nothing and counts nothing twice.

Where the rest lives: topics (`topics`), partition ownership and fences (`ownership`), the batch
steps (`pipeline`), outages and retries (`retry`), the decay sweep (`sweep`), rescoring after a
model change (`rescoring`), gauges (`gauges`) and the HTTP API (`http`).
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any

from faust.types import TP

from scoring.engine import Engine
from scoring.model import Model
from streams.runtime.app import create_app
from streams.runtime.batching import take_batches
from streams.runtime.gauges import GAUGES_INTERVAL, refresh_gauges
from streams.runtime.hints import OffsetHints
from streams.runtime.http import AccountViews, add_pages
from streams.runtime.messages import Incoming, group_batch
from streams.runtime.metrics import Metrics
from streams.runtime.ownership import Ownership
from streams.runtime.pipeline import BatchReport, Pipeline
from streams.runtime.processes import stop_process
from streams.runtime.publishing import FaustPublisher
from streams.runtime.rescoring import Rescoring
from streams.runtime.retry import OutageRetry
from streams.runtime.state_cache import StateCache
from streams.runtime.sweep import sweep_owned
from streams.runtime.topics import destination_topics, worker_topics
from streams.settings import Settings
from streams.store.client import connect_redis
from streams.store.state_store import StateStore


class Worker:
    """One worker's runtime: the pipeline, the partitions it owns (`Ownership`) and the faust
    app that feeds them."""

    def __init__(self, settings: Settings, models: tuple[Model, ...]) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.metrics = Metrics()
        self.engine = Engine(
            models,
            dedupe_window=settings.dedupe_window,
            allowed_lateness=settings.allowed_lateness,
        )
        self.redis = connect_redis(settings.redis_url.get_secret_value())
        self.store = StateStore(self.redis, settings.key_prefix)
        host, port = settings.redis_endpoint()
        self.retry = OutageRetry(f"Redis is at {host}:{port}, Kafka at {settings.kafka_bootstrap}")
        self.pipeline = Pipeline(
            self.engine,
            self.store,
            FaustPublisher(self.app, destination_topics(settings)),
            self.metrics,
            max_future_skew=settings.max_future_skew,
            cache=StateCache(settings.state_cache_accounts),
        )
        self.versions = ",".join(f"{m.id}:{m.version}" for m in sorted(models, key=lambda m: m.id))
        self.ownership = Ownership(self.take_partition, self.pipeline.release, self.retry)
        self.hints = OffsetHints(lambda hints: self.app.consumer._commit(hints))
        self.rescoring = Rescoring(
            self.ownership,
            self.pipeline,
            self.store,
            self.retry,
            self.publish,
            self.metrics,
            self.versions,
        )
        self.views = AccountViews(
            settings, self.engine, self.pipeline.accounts, self.store, self.versions
        )
        self.topics = worker_topics(self.app, settings)
        self._wire()

    async def take_partition(self, partition: int) -> str:
        """Takes the partition's fence, then forgets the model versions it was rescored to if
        they are not this worker's: until this worker's rescoring marks its own, no tier ceiling
        of the partition may be trusted (`StateStore.forget_other_versions`)."""
        token = await self.store.take_fence(partition)
        await self.store.forget_other_versions(partition, self.versions)
        return token

    # --- faust wiring --------------------------------------------------------------------------

    def _batches(self, stream: Any) -> AsyncIterator[Sequence[Any]]:
        """The stream's batches: `take_batches` when BATCH_BACKLOG_WITHIN is longer than
        BATCH_WITHIN, else faust's own."""
        settings = self.settings
        if settings.batch_backlog_within > settings.batch_within:
            return take_batches(
                stream, settings.batch_max, settings.batch_within, settings.batch_backlog_within
            )
        batches: AsyncIterator[Sequence[Any]] = stream.take_events(
            settings.batch_max, within=settings.batch_within
        )
        return batches

    def _wire(self) -> None:
        app, settings = self.app, self.settings

        @app.agent(self.topics.events, name="score-events")
        async def score_events(stream: Any) -> AsyncIterator[None]:
            async for batch in self._batches(stream):
                await self.handle_or_die(batch)
                yield None

        @app.agent(self.topics.profiles, name="apply-profiles")
        async def apply_profiles(stream: Any) -> AsyncIterator[None]:
            async for batch in self._batches(stream):
                await self.handle_or_die(batch)
                yield None

        @app.task
        async def declare_output_topics() -> None:
            for topic in self.topics.outputs:
                await topic.maybe_declare()

        app.on_partitions_assigned.connect(self.on_assigned)
        app.on_partitions_revoked.connect(self.on_revoked)

        if settings.decay_sweep_interval > 0:

            @app.timer(settings.decay_sweep_interval)
            async def decay_sweep() -> None:
                await sweep_owned(self.ownership, self.pipeline, self.retry, self.publish)

        @app.timer(GAUGES_INTERVAL)
        async def gauges() -> None:
            await refresh_gauges(
                self.app.consumer,
                self.topics.sources,
                sorted(self.ownership.fences),
                self.engine,
                self.store,
                self.metrics,
            )

        add_pages(app, self.views, self.metrics, self.redis, lambda: self.ownership.fences)

    # --- ownership -----------------------------------------------------------------------------

    async def on_assigned(self, _app: Any, assigned: Iterable[TP], **_: Any) -> None:
        """`take_partitions`, or stop the process on an error that is neither an outage (those
        are retried) nor bad input: a partition fenced but not prepared would stay fenced
        against every other worker while this one never owns it. A restarted worker tries again
        and says why."""
        try:
            await self.take_partitions(assigned)
        except Exception:
            stop_process("taking the assigned partitions failed")

    async def take_partitions(self, assigned: Iterable[TP]) -> None:
        """Takes the fence of every newly owned partition, then publishes what its previous
        owner left in the outbox and starts rescoring it if a model version changed."""
        generation = self.app.consumer_generation_id
        assigned = set(assigned)
        self.hints.keep_only(assigned)
        owned = {tp.partition for tp in assigned if tp.topic in self.topics.sources}
        taken = await self.ownership.assign(owned, generation)
        for partition in taken:
            await self.ownership.locked(partition, functools.partial(self.publish, partition))
        self.app.add_future(self.rescoring.rescore_owned())

    async def on_revoked(self, _app: Any, revoked: Iterable[TP], **_: Any) -> None:
        revoked = set(revoked)
        self.ownership.drop({tp.partition for tp in revoked if tp.topic in self.topics.sources})
        self.hints.forget(revoked)

    # --- work ----------------------------------------------------------------------------------

    async def handle_or_die(self, batch: Sequence[Any]) -> None:
        """`handle`, or stop the process on an error that is not bad input nor an outage.

        Bad input is a value (dead letters), a message whose handling raises is a dead letter
        `internal_error` (`Pipeline`) and outages are retried, so what lands here is Redis
        refusing a commit, or a bug outside the batch step. Going on would be worse than
        stopping: faust would restart the agent past the failed batch and the next commit would
        skip it. Stopping loses nothing: Redis holds the last
        committed batch atomically and a restarted worker resumes from its applied offset.
        """
        try:
            await self.handle(batch)
        except Exception:
            stop_process("a batch failed unexpectedly")

    async def handle(self, batch: Sequence[Any]) -> None:
        """One batch from faust (any partitions, one topic): per partition, score and publish;
        then one offset hint to Kafka for the partitions that committed to Redis.

        The partitions run side by side: while one waits for Redis or for the broker's ack,
        another scores (each partition's own work stays in order under its lock)."""
        now = time.time()
        started = time.perf_counter()
        applied: list[Incoming] = []  # the last message of each partition that committed
        works = {"events": self.pipeline.events_batch, "profiles": self.pipeline.profiles_batch}

        async def run(
            token: str,
            partition: int,
            messages: list[Incoming],
            work: Callable[..., Awaitable[BatchReport]],
        ) -> None:
            report = await self.retry("score batch", lambda: work(partition, token, messages, now))
            if not report.fenced:
                await self.publish(partition, token)
                applied.append(messages[-1])

        await asyncio.gather(
            *(
                self.ownership.locked(
                    partition,
                    functools.partial(
                        run,
                        partition=partition,
                        messages=messages,
                        work=works[self.topics.sources[topic]],
                    ),
                    generation,
                )
                for (topic, partition, generation), messages in group_batch(batch).items()
            )
        )
        if applied:
            await self.hints.applied(applied)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    async def publish(self, partition: int, token: str) -> None:
        """Publishes the partition's outbox, through outages."""
        await self.retry("publish outbox", lambda: self.pipeline.publish_outbox(partition, token))
