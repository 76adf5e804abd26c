"""Background rescoring after a model version change: every account of the owned partitions
that are not at the loaded versions is brought to them (cause `rescore`), while the stream goes
on between chunks."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping

from streams.runtime.metrics import Metrics
from streams.runtime.ownership import Ownership
from streams.runtime.pipeline import Pipeline
from streams.runtime.retry import OutageRetry
from streams.store.state_store import StateStore

log = logging.getLogger("scorer.worker")

RESCORE_CHUNK = 500
"""Accounts rescored per locked step: the stream waits for one step (~25 ms at 50 µs each)."""


class Rescoring:
    """Rescores the owned partitions to `versions` (the loaded models, `id:version,...`)."""

    def __init__(
        self,
        ownership: Ownership,
        pipeline: Pipeline,
        store: StateStore,
        retry: OutageRetry,
        publish: Callable[[int, str], Awaitable[None]],
        metrics: Metrics,
        versions: str,
    ) -> None:
        self.ownership = ownership
        self.pipeline = pipeline
        self.store = store
        self.retry = retry
        self.publish = publish
        self.metrics = metrics
        self.versions = versions

    async def rescore_owned(self) -> None:
        """Rescores every account of the owned partitions not at the loaded versions.

        One SCAN walks the keyspace for all of them (`list_stale_accounts`) and hands each
        partition its accounts in chunks; the partitions are rescored side by side, so one's
        Redis round trips overlap another's scoring."""
        stale = []
        for partition in sorted(self.ownership.fences):
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

            await self.ownership.locked(partition, run)
        if done == listed and partition in self.ownership.fences:
            await self.retry(
                "record rescored versions",
                functools.partial(self.store.mark_rescored, partition, self.versions),
            )
            log.info("rescored partition %d: %d accounts", partition, done)
