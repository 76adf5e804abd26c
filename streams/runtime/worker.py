"""The faust worker: topics, thin agents, partition ownership, timers and HTTP views.

Offsets: the input topics are declared with `acks=False`, so faust never commits their offsets
on its own (its commit bookkeeping can skip or repeat: faust-streaming #606, #502). Redis holds
the applied offset of every partition, written in the same atomic call as the state; after
each batch the worker also commits that offset to Kafka, as a hint where to resume. The hint is
never ahead of Redis, and every batch drops what Redis says is applied, so a crash or a
rebalance at any moment loses nothing and counts nothing twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import faust
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
)
from aiokafka.partitioner import murmur2
from faust.types import TP
from redis.exceptions import BusyLoadingError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from scoring.engine import Engine
from scoring.model import Model
from scoring.timefmt import format_rfc3339
from streams.runtime.app import create_app
from streams.runtime.batching import take_batches
from streams.runtime.metrics import Metrics
from streams.runtime.pipeline import BatchReport, Destination, Incoming, Outgoing, Pipeline
from streams.runtime.state_cache import StateCache
from streams.settings import Settings
from streams.store.client import connect_redis
from streams.store.state_store import StateStore

log = logging.getLogger("scorer.worker")

EVENTS = "account-events"
PROFILES = "account-profiles"
SCORE_CHANGES = "account-score-changes"
DEAD_LETTERS = "account-events-dlq"

RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)

# Failures that mean "a service is away for now": retried until it is back. Anything else
# (a Redis script error, a bug) is not retried: it stops the worker (`handle_or_die`).
OUTAGES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    KafkaConnectionError,
    KafkaTimeoutError,
    RequestTimedOutError,
    NotLeaderForPartitionError,
)


def account_partition(account_id: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a message keyed by `account_id`."""
    return int(murmur2(account_id.encode()) & 0x7FFFFFFF) % partitions


class FaustPublisher:
    """Publishes outbox messages with the app's producer; returns when all are acknowledged."""

    def __init__(self, app: faust.App, topics: dict[Destination, str]) -> None:
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


def stop_process(reason: str) -> NoReturn:
    """Logs `reason` with the exception being handled and stops the process at once (exit 70,
    EX_SOFTWARE): for an error that is neither bad input nor an outage, where going on would
    be worse. The supervisor (systemd, Kubernetes) restarts the worker."""
    log.critical("stopping the worker: %s", reason, exc_info=True)
    logging.shutdown()
    os._exit(70)


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Every topic of the project with its configs (profiles are compacted: latest per account)."""
    return {
        settings.topic(EVENTS): {},
        settings.topic(PROFILES): {"cleanup.policy": "compact"},
        settings.topic(SCORE_CHANGES): {},
        settings.topic(DEAD_LETTERS): {},
    }


HINT_INTERVAL = 1.0
"""Seconds between two offset commits to Kafka (hints; see `Worker.commit_hint`)."""

RESCORE_CHUNK = 500
"""Accounts rescored per locked step: the stream waits for one step (~25 ms at 50 µs each)."""


@dataclass(frozen=True, slots=True)
class Fence:
    """This worker's claim on a partition: the token its commits carry, and the consumer
    generation (the rebalance) that gave it the partition."""

    token: str
    generation: int


class Worker:
    """One worker's runtime: the pipeline, the partitions it owns and their fences.

    A batch only ever continues what Redis has applied: messages count for a partition only
    if they were fetched in the generation that gave this worker the partition. After every
    rebalance faust seeks each assigned partition back to its committed offset (a hint never
    ahead of Redis), so the messages that were fetched before come again. Without this rule a
    batch still in faust's buffer from before the rebalance could commit past a batch that was
    dropped during it, and the dropped messages would then be filtered as applied.
    """

    def __init__(self, settings: Settings, models: tuple[Model, ...]) -> None:
        self.settings = settings
        self.app = create_app(settings)
        self.metrics = Metrics()
        self.engine = Engine(models, dedupe_window=settings.dedupe_window)
        self.redis = connect_redis(settings.redis_url.get_secret_value())
        self.store = StateStore(self.redis, settings.key_prefix)
        names = {
            Destination.SCORE_CHANGES: settings.topic(SCORE_CHANGES),
            Destination.DEAD_LETTERS: settings.topic(DEAD_LETTERS),
            Destination.EVENTS: settings.topic(EVENTS),
            Destination.PROFILES: settings.topic(PROFILES),
        }
        self.pipeline = Pipeline(
            self.engine,
            self.store,
            FaustPublisher(self.app, names),
            self.metrics,
            max_future_skew=settings.max_future_skew,
            cache=StateCache(settings.state_cache_accounts),
        )
        self.fences: dict[int, Fence] = {}
        # The latest generation whose assignment has its fences taken; batches of a newer
        # generation wait for it (`owned_since`).
        self.assigned_generation = 0
        self.assignment_done = asyncio.Event()
        self.hints: dict[TP, int] = {}  # offsets to tell Kafka at the next hint (commit_hint)
        self.hinted_at = 0.0
        self.locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.versions = ",".join(f"{m.id}:{m.version}" for m in sorted(models, key=lambda m: m.id))
        self.rankings = [(m.id, [tier.name for tier in m.tiers]) for m in models]
        self.source_names = {
            names[Destination.EVENTS]: "events",
            names[Destination.PROFILES]: "profiles",
        }
        # internal=True: faust creates the topic when it is missing (with these partitions and
        # settings) and leaves an existing one as it is.
        raw = {"value_serializer": "raw", "key_serializer": "raw", "internal": True}
        partitions = settings.topic_partitions
        self.events_topic = self.app.topic(
            names[Destination.EVENTS], partitions=partitions, acks=False, **raw
        )
        self.profiles_topic = self.app.topic(
            names[Destination.PROFILES], partitions=partitions, acks=False, compacting=True, **raw
        )
        self.output_topics = [
            self.app.topic(names[Destination.SCORE_CHANGES], partitions=partitions, **raw),
            self.app.topic(names[Destination.DEAD_LETTERS], partitions=partitions, **raw),
        ]
        self._wire()

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

        @app.agent(self.events_topic, name="score-events")
        async def score_events(stream: Any) -> AsyncIterator[None]:
            async for batch in self._batches(stream):
                await self.handle_or_die(batch)
                yield None

        @app.agent(self.profiles_topic, name="apply-profiles")
        async def apply_profiles(stream: Any) -> AsyncIterator[None]:
            async for batch in self._batches(stream):
                await self.handle_or_die(batch)
                yield None

        @app.task
        async def declare_output_topics() -> None:
            for topic in self.output_topics:
                await topic.maybe_declare()

        app.on_partitions_assigned.connect(self.on_assigned)
        app.on_partitions_revoked.connect(self.on_revoked)

        if settings.decay_sweep_interval > 0:

            @app.timer(settings.decay_sweep_interval)
            async def decay_sweep() -> None:
                await self.sweep_all()

        @app.timer(15.0)
        async def gauges() -> None:
            await self.update_gauges()

        self._wire_web()

    async def on_assigned(self, _app: Any, assigned: Iterable[TP], **_: Any) -> None:
        """`take_partitions`, or stop the process on an error that is neither an outage (those
        are retried) nor bad input: a partition fenced but not prepared (say, old account hashes
        it cannot move, docs/redis-layout.md) would stay fenced against every other worker while
        this one never owns it. A restarted worker tries again and says why."""
        try:
            await self.take_partitions(assigned)
        except Exception:
            stop_process("taking the assigned partitions failed")

    async def take_partitions(self, assigned: Iterable[TP]) -> None:
        """Takes the fence of every newly owned partition, then publishes what its previous
        owner left in the outbox and starts rescoring it if a model version changed."""
        generation = self.app.consumer_generation_id
        assigned = set(assigned)
        owned = {tp.partition for tp in assigned if tp.topic in self.source_names}
        self.hints = {tp: offset for tp, offset in self.hints.items() if tp in assigned}
        self.release(self.fences.keys() - owned)
        # A partition kept without a revoke moves to this generation too: faust seeks it back
        # to its committed offset like every other, so its older messages come again.
        for partition in self.fences.keys() & owned:
            self.fences[partition] = Fence(self.fences[partition].token, generation)
        taken = sorted(owned - self.fences.keys())
        tokens = {}
        for partition in taken:
            tokens[partition] = await self.retry(
                "take fence", functools.partial(self.store.take_fence, partition)
            )
        for partition in taken:
            token = tokens[partition]
            await self.retry(
                "forget other versions",
                functools.partial(self.store.forget_other_versions, partition, self.versions),
            )
            self.fences[partition] = Fence(token, generation)
            log.info("owning partition %d", partition)
        done, self.assignment_done = self.assignment_done, asyncio.Event()
        self.assigned_generation = max(self.assigned_generation, generation)
        done.set()
        for partition in taken:
            await self.locked(partition, functools.partial(self.publish, partition))
        self.app.add_future(self.rescore_owned())

    async def on_revoked(self, _app: Any, revoked: Iterable[TP], **_: Any) -> None:
        revoked = set(revoked)
        self.release({tp.partition for tp in revoked if tp.topic in self.source_names})
        # Never commit a partition this worker no longer owns: its new owner resumes from
        # Redis's applied offset anyway.
        self.hints = {tp: offset for tp, offset in self.hints.items() if tp not in revoked}

    def release(self, partitions: Iterable[int]) -> None:
        """Forgets the partitions' fences and cached states: this worker no longer owns them."""
        for partition in partitions:
            self.fences.pop(partition, None)
            self.pipeline.release(partition)

    # --- work ----------------------------------------------------------------------------------

    async def handle_or_die(self, batch: Sequence[Any]) -> None:
        """`handle`, or stop the process on an error that is not bad input nor an outage.

        Bad input is a value (dead letters) and outages are retried, so what lands here is a bug.
        Going on would be worse than stopping: faust would restart the agent past the failed
        batch and the next commit would skip it. Stopping loses nothing: Redis holds the last
        committed batch atomically and a restarted worker resumes from its applied offset.
        """
        try:
            await self.handle(batch)
        except Exception:
            stop_process("a batch failed unexpectedly")

    async def handle(self, batch: Sequence[Any]) -> None:
        """One batch from faust (any partitions, one topic): per partition, score and publish;
        then one offset commit to Kafka for the partitions that committed to Redis.

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
                self.locked(
                    partition,
                    functools.partial(
                        run,
                        partition=partition,
                        messages=messages,
                        work=works[self.source_names[topic]],
                    ),
                    generation,
                )
                for (topic, partition, generation), messages in group_batch(batch).items()
            )
        )
        if applied:
            await self.commit_hint(applied)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    async def publish(self, partition: int, token: str) -> None:
        await self.retry("publish outbox", lambda: self.pipeline.publish_outbox(partition, token))

    async def commit_hint(self, applied: Sequence[Incoming]) -> None:
        """Tells Kafka where to resume: never past what Redis has applied (each message is the
        last one of its partition's commit), and at most every `HINT_INTERVAL` seconds. It is
        only a hint, Redis's applied offsets decide what counts: a commit round trip per batch
        was a large share of a small batch's time (docs/benchmarks.md)."""
        for m in applied:
            self.hints[TP(m.topic, m.partition)] = m.offset + 1
        now = time.monotonic()
        if now - self.hinted_at < HINT_INTERVAL:
            return
        hints, self.hints, self.hinted_at = self.hints, {}, now
        await self.app.consumer._commit(hints)

    async def sweep_all(self) -> None:
        now = time.time()
        for partition in sorted(self.fences):

            async def run(token: str, p: int = partition) -> None:
                report = await self.retry("decay sweep", lambda: self.pipeline.sweep(p, token, now))
                if report.changes:
                    log.info("decay sweep of partition %d: %d tier changes", p, len(report.changes))
                if not report.fenced:
                    await self.publish(p, token)

            await self.locked(partition, run)

    async def rescore_owned(self) -> None:
        """Rescores, in the background, every account of the owned partitions that are not at
        the loaded model versions; the stream goes on between chunks.

        One SCAN walks the keyspace for all of them (`list_stale_accounts`) and hands each
        partition its accounts in chunks; the partitions are rescored side by side, so one's
        Redis round trips overlap another's scoring."""
        stale = []
        for partition in sorted(self.fences):
            versions = await self.retry(
                "read rescored versions",
                functools.partial(self.store.rescored_versions, partition),
            )
            if versions != self.versions:
                stale.append(partition)
        if not stale:
            return
        # One chunk waits per partition: the walk is far faster than the rescoring, and the
        # account ids of a whole keyspace should not pile up in memory.
        chunks = {p: asyncio.Queue[list[str] | None](maxsize=1) for p in stale}
        async with asyncio.TaskGroup() as group:
            group.create_task(self.list_stale_accounts(chunks))
            for partition, queue in chunks.items():
                group.create_task(self.rescore_partition(partition, queue))

    async def list_stale_accounts(
        self, chunks: Mapping[int, asyncio.Queue[list[str] | None]]
    ) -> None:
        """Walks the keyspace once and puts the accounts of each partition of `chunks` into its
        queue, `RESCORE_CHUNK` at a time, then None."""
        pending: dict[int, list[str]] = {p: [] for p in chunks}
        cursor = 0
        while True:
            # A SCAN cursor holds no state on the server: the walk resumes after an outage.
            step = functools.partial(self.store.account_ids, cursor, 4 * RESCORE_CHUNK)
            cursor, found = await self.retry("list accounts", step)
            for partition, account_id in found:
                ids = pending.get(partition)
                if ids is None:
                    continue
                ids.append(account_id)
                if len(ids) == RESCORE_CHUNK:
                    await chunks[partition].put(ids)
                    pending[partition] = []
            if cursor == 0:
                break
        for partition, ids in pending.items():
            if ids:
                await chunks[partition].put(ids)
            await chunks[partition].put(None)

    async def rescore_partition(
        self, partition: int, chunks: asyncio.Queue[list[str] | None]
    ) -> None:
        """Rescores the chunks of one partition's accounts until None, and records the loaded
        versions once every account was rescored. A chunk of a partition the worker no longer
        owns is skipped (its new owner rescores it), and the versions are then left alone."""
        log.info("rescoring partition %d to %s", partition, self.versions)
        listed = done = 0
        while (account_ids := await chunks.get()) is not None:
            listed += len(account_ids)

            async def run(token: str, ids: list[str] = account_ids) -> None:
                nonlocal done
                report = await self.retry(
                    "rescore", lambda: self.pipeline.rescore(partition, token, ids, time.time())
                )
                if report.fenced:
                    return
                done += len(ids)
                # The accounts each model was rescored on (those already current are not).
                for model, count in Counter(
                    m for ms in report.rescored.values() for m in ms
                ).items():
                    self.metrics.rescored_accounts.labels(model).inc(count)
                await self.publish(partition, token)

            await self.locked(partition, run)
        if done == listed and partition in self.fences:
            await self.retry(
                "record rescored versions",
                functools.partial(self.store.mark_rescored, partition, self.versions),
            )
            log.info("rescored partition %d: %d accounts", partition, done)

    async def update_gauges(self) -> None:
        """Consumer lag and accounts per tier of the owned partitions. A refresh that meets an
        outage is skipped (the next one comes in 15 s): metrics never stop the worker."""
        try:
            await self._update_gauges()
        except OUTAGES as err:
            log.warning("metrics refresh skipped: %s: %s", type(err).__name__, err)

    async def _update_gauges(self) -> None:
        partitions = sorted(self.fences)
        # Only what the consumer has assigned right now: during a rebalance a fenced partition
        # may not be (or no longer be) assigned, and asking its high-water mark would raise.
        for tp in self.app.consumer.assignment():
            source = self.source_names.get(tp.topic)
            if source is None:
                continue
            try:
                highwater = self.app.consumer.highwater(tp)
            except AssertionError:
                # aiokafka's "Partition is not assigned": the consumer thread rebalanced since
                # assignment() above. Skip it; the next refresh sees the new assignment.
                continue
            if highwater is not None:
                applied = await self.store.applied_offset(tp.partition, source)
                self.metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                    max(highwater - applied - 1, 0)
                )
        for model in self.engine.models:
            tiers = [tier.name for tier in model.tiers]
            counts = await self.store.tier_counts(partitions, model.id, tiers)
            for tier, count in counts.items():
                self.metrics.accounts_per_tier.labels(model.id, tier).set(count)

    async def locked(
        self,
        partition: int,
        work: Callable[[str], Awaitable[None]],
        generation: int | None = None,
    ) -> None:
        """Runs `work(token)` alone on the partition, if this worker still owns it; for
        messages fetched in `generation`, only if that generation gave it the partition."""
        if generation is not None:
            await self.owned_since(generation)
        async with self.locks[partition]:
            fence = self.fences.get(partition)
            if fence is None or generation not in (None, fence.generation):
                return
            await work(fence.token)

    async def owned_since(self, generation: int) -> None:
        """Waits until the fences of `generation`'s assignment are taken. Its messages can reach
        a batch before `on_assigned` is done: dropping them then, while the next batch of the
        same generation goes on, would leave a gap."""
        while self.assigned_generation < generation:
            await self.assignment_done.wait()

    async def retry(self, what: str, call: Callable[[], Awaitable[Any]]) -> Any:
        """Retries `call` while Redis or Kafka fail: the batch must not be skipped, so the stream
        waits (and says why) until the service is back."""
        attempt = 0
        while True:
            try:
                return await call()
            except OUTAGES as err:
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                host, port = self.settings.redis_endpoint()
                log.warning(
                    "%s failed (%s: %s); Redis is at %s:%d, Kafka at %s; retrying in %.1fs",
                    what,
                    type(err).__name__,
                    err,
                    host,
                    port,
                    self.settings.kafka_bootstrap,
                    delay,
                )
                attempt += 1
                await asyncio.sleep(delay)

    # --- HTTP ----------------------------------------------------------------------------------

    def _wire_web(self) -> None:
        app = self.app

        @app.page("/healthz")
        async def healthz(web: Any, request: Any) -> Any:
            checks = {
                "redis": await self.redis_reachable(),
                "kafka": await self.kafka_reachable(),
                "partitions": sorted(self.fences),
            }
            healthy = checks["redis"] and checks["kafka"] and bool(self.fences)
            return web.json(checks, status=200 if healthy else 503)

        @app.page("/metrics")
        async def metrics(web: Any, request: Any) -> Any:
            return web.bytes(self.metrics.render(), content_type="text/plain; version=0.0.4")

        @app.page("/accounts/{account_id}")
        async def account(web: Any, request: Any, account_id: str) -> Any:
            body = await self.account_view(account_id, time.time())
            if body is None:
                return web.json({"error": f"no account {account_id!r}"}, status=404)
            return web.json(body)

        @app.page("/accounts")
        async def accounts(web: Any, request: Any) -> Any:
            model = request.query.get("model") or self.engine.models[0].id
            known = {m.id: m for m in self.engine.models}
            if model not in known:
                return web.json({"error": f"unknown model {model!r}"}, status=400)
            tiers = [t.name for t in known[model].tiers]
            tier = request.query.get("tier")
            if tier is not None and tier not in tiers:
                return web.json({"error": f"unknown tier {tier!r} of {model}"}, status=400)
            try:
                limit = max(1, min(int(request.query.get("limit", "50")), 1000))
            except ValueError:
                return web.json({"error": "limit must be a whole number"}, status=400)
            rows = await self.top_accounts(model, tier, limit, time.time())
            return web.json({"model": model, "tier": tier, "accounts": rows})

    async def top_accounts(
        self, model_id: str, tier: str | None, limit: int, now: float
    ) -> list[dict[str, Any]]:
        """The best accounts of a model (and tier) by their total decayed to now.

        The ranking sets hold each account's total at its last evaluation; accounts gone quiet
        sink only when evaluated again. So a wider set of candidates is re-scored at `now` and
        re-ranked, which is what a rep looking at "top accounts" expects. For one tier, the
        candidates are the accounts ranked in it: the best of all tiers would be those of the
        tiers above, filtered out. An account that decayed into the tier since its last
        evaluation joins it at a decay sweep (docs/pipeline.md).
        """
        model = next(m for m in self.engine.models if m.id == model_id)
        # A tier's totals stay below the `min` of the tier above it (SCORING.md: up at once), on
        # partitions rescored to the loaded versions.
        ceilings: list[float | None] = [None, *(t.min for t in model.tiers[:-1])]
        tiers = [t.name for t in model.tiers]
        if tier is not None:  # one tier: the first is always read, so no ceiling
            ceilings, tiers = [None], [tier]
        candidates = await self.store.top(
            range(self.settings.topic_partitions),
            model_id,
            tiers,
            limit * 3 + 20,
            ceilings,
            self.versions,
        )
        by_partition: dict[int, list[str]] = {}
        for account_id, _ in candidates:
            partition = account_partition(account_id, self.settings.topic_partitions)
            by_partition.setdefault(partition, []).append(account_id)
        rows: list[dict[str, Any]] = []
        for partition, account_ids in by_partition.items():
            for account_id, state in (await self.pipeline.load(partition, account_ids)).items():
                score = self.engine.score(state, model_id, at=now)
                if tier is None or score.tier == tier:
                    summary = self.engine.explain(state, model_id, at=now).summary
                    rows.append(
                        {
                            "account_id": account_id,
                            "tier": score.tier,
                            "total": score.total,
                            "summary": summary,
                        }
                    )
        rows.sort(key=lambda row: (-row["total"], row["account_id"]))
        return rows[:limit]

    async def redis_reachable(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self.redis.ping(), timeout=1.0))
        except (RedisError, OSError, TimeoutError):
            return False

    async def kafka_reachable(self) -> bool:
        """True when a bootstrap server accepts a connection within a second."""
        for server in self.settings.kafka_bootstrap.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(host or "127.0.0.1", int(port or 9092)), timeout=1.0
                )
            except (OSError, TimeoutError, ValueError):
                continue
            writer.close()
            return True
        return False

    async def account_view(self, account_id: str, now: float) -> dict[str, Any] | None:
        """Scores, tiers and explanations of one account under every model, decayed to now."""
        partition = account_partition(account_id, self.settings.topic_partitions)
        states = await self.pipeline.load(partition, [account_id])
        state = states[account_id]
        if state.clock == float("-inf") and state.profile is None:
            return None
        scores = []
        for model in self.engine.models:
            score = self.engine.score(state, model.id, at=now)
            scores.append(
                {
                    "model": model.id,
                    "model_version": model.version,
                    "total": score.total,
                    "fit": score.fit,
                    "engagement": score.engagement,
                    "tier": score.tier,
                    "criteria": dict(score.criteria),
                    "explanation": self.engine.explain(state, model.id, at=now).to_dict(),
                }
            )
        return {
            "account_id": account_id,
            "clock": format_rfc3339(state.clock),
            "at": format_rfc3339(now),
            "scores": scores,
        }


def group_batch(batch: Sequence[Any]) -> dict[tuple[str, int, int], list[Incoming]]:
    """A faust batch as `Incoming` messages per (topic, partition, consumer generation), each
    in offset order. A batch taken across a rebalance holds messages of two generations."""
    groups: dict[tuple[str, int, int], list[Incoming]] = {}
    for event in batch:
        message = event.message
        key = (message.topic, message.partition, int(message.generation_id))
        groups.setdefault(key, []).append(
            Incoming(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                value=message.value,
                timestamp=message.timestamp,
                headers=tuple(_headers(message.headers)),
            )
        )
    for messages in groups.values():
        messages.sort(key=lambda m: m.offset)
    return groups


def _headers(headers: Any) -> Iterable[tuple[str, bytes]]:
    if not headers:
        return ()
    items = headers.items() if isinstance(headers, dict) else headers
    return ((str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in items)
