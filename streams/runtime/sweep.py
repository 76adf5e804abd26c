"""The decay sweep: every owned partition's accounts whose tier drop is due are evaluated now,
so a quiet account drops tier when its score decays (cause `decay`), not at its next event."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from streams.runtime.ownership import Ownership
from streams.runtime.pipeline import Pipeline
from streams.runtime.retry import OutageRetry

log = logging.getLogger("scorer.worker")


async def sweep_owned(
    ownership: Ownership,
    pipeline: Pipeline,
    retry: OutageRetry,
    publish: Callable[[int, str], Awaitable[None]],
) -> None:
    """Sweeps each owned partition under its lock, then publishes what the sweep left in its
    outbox."""
    now = time.time()
    for partition in sorted(ownership.fences):

        async def run(token: str, p: int = partition) -> None:
            report = await retry("decay sweep", lambda: pipeline.sweep(p, token, now))
            if report.changes:
                log.info("decay sweep of partition %d: %d tier changes", p, len(report.changes))
            if not report.fenced:
                await publish(p, token)

        await ownership.locked(partition, run)
