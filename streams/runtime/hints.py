"""Offset commits to Kafka, as hints where to resume.

Redis holds the applied offset of every partition, written in the same atomic call as the state;
what Kafka is told is only a hint, never ahead of Redis, and every batch drops what Redis says is
applied. A commit round trip per batch was a large share of a small batch's time
(docs/benchmarks.md), so hints are gathered and sent at most every `HINT_INTERVAL` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

from faust.types import TP

from streams.runtime.messages import Incoming

HINT_INTERVAL = 1.0
"""Seconds between two offset commits to Kafka."""


class OffsetHints:
    """The offsets to tell Kafka at the next hint; `commit` sends them (faust's consumer)."""

    def __init__(self, commit: Callable[[dict[TP, int]], Awaitable[object]]) -> None:
        self.commit = commit
        self.pending: dict[TP, int] = {}
        self.hinted_at = 0.0

    async def applied(self, messages: Sequence[Incoming]) -> None:
        """Notes where to resume after `messages` (each the last of its partition's commit to
        Redis), and sends the hints if the last were sent `HINT_INTERVAL` ago or more."""
        for m in messages:
            self.pending[TP(m.topic, m.partition)] = m.offset + 1
        now = time.monotonic()
        if now - self.hinted_at < HINT_INTERVAL:
            return
        hints, self.pending, self.hinted_at = self.pending, {}, now
        await self.commit(hints)

    def keep_only(self, assigned: Iterable[TP]) -> None:
        """Forgets the hints of partitions not in `assigned`."""
        kept = set(assigned)
        self.pending = {tp: offset for tp, offset in self.pending.items() if tp in kept}

    def forget(self, revoked: Iterable[TP]) -> None:
        """Never commit a partition this worker no longer owns: its new owner resumes from
        Redis's applied offset anyway."""
        dropped = set(revoked)
        self.pending = {tp: offset for tp, offset in self.pending.items() if tp not in dropped}
