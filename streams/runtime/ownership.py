"""Which partitions this worker owns: a fence per partition, the generation that gave it, and a
lock per partition that serialises its work.

A batch only ever continues what Redis has applied: messages count for a partition only if they
were fetched in the generation that gave this worker the partition. After every rebalance faust
seeks each assigned partition back to its committed offset (a hint never ahead of Redis), so the
messages that were fetched before come again. Without this rule a batch still in faust's buffer
from before the rebalance could commit past a batch that was dropped during it, and the dropped
messages would then be filtered as applied.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from streams.runtime.retry import OutageRetry

log = logging.getLogger("scorer.worker")


@dataclass(frozen=True, slots=True)
class Fence:
    """This worker's claim on a partition: the token its commits carry, and the consumer
    generation (the rebalance) that gave it the partition."""

    token: str
    generation: int


class Ownership:
    """The fences this worker holds, taken with `take_fence` (retried through outages);
    `forget(partition)` drops what the worker keeps of a partition it no longer owns."""

    def __init__(
        self,
        take_fence: Callable[[int], Awaitable[str]],
        forget: Callable[[int], None],
        retry: OutageRetry,
    ) -> None:
        self.take_fence = take_fence
        self.forget = forget
        self.retry = retry
        self.fences: dict[int, Fence] = {}
        # The latest generation whose assignment has its fences taken; batches of a newer
        # generation wait for it (`owned_since`).
        self.assigned_generation = 0
        self.assignment_done = asyncio.Event()
        self.locks: defaultdict[int, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def assign(self, owned: set[int], generation: int) -> list[int]:
        """Makes `owned` the partitions of `generation`'s assignment: forgets the fences of the
        others, takes a fence for each new one, and returns those, in order. A worker taking a
        partition runs nothing else on it first: its next batch reads Redis as it is."""
        self.drop(self.fences.keys() - owned)
        # A partition kept without a revoke moves to this generation too: faust seeks it back
        # to its committed offset like every other, so its older messages come again.
        for partition in self.fences.keys() & owned:
            self.fences[partition] = Fence(self.fences[partition].token, generation)
        taken = sorted(owned - self.fences.keys())
        tokens = {}
        for partition in taken:
            tokens[partition] = await self.retry(
                "take fence", functools.partial(self.take_fence, partition)
            )
        for partition in taken:
            self.fences[partition] = Fence(tokens[partition], generation)
            log.info("owning partition %d", partition)
        done, self.assignment_done = self.assignment_done, asyncio.Event()
        self.assigned_generation = max(self.assigned_generation, generation)
        done.set()
        return taken

    def drop(self, partitions: Iterable[int]) -> None:
        """Forgets the partitions' fences and what is kept of them: this worker no longer owns
        them."""
        for partition in list(partitions):
            self.fences.pop(partition, None)
            self.forget(partition)

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
        a batch before the assignment is done: dropping them then, while the next batch of the
        same generation goes on, would leave a gap."""
        while self.assigned_generation < generation:
            await self.assignment_done.wait()
