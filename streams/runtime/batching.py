"""Batches of a faust stream that grow while a large backlog waits in Kafka.

faust's `Stream.take_events(max_, within)` yields a batch when it holds `max_` events or
`within` seconds after the last batch. Under a backlog (a restart, a replay, a burst) faust's
delivery (~50 µs per message) fills only a few hundred messages within 10 ms, and each batch
costs a Lua call, a publish and a trim per partition. `take_batches` waits `within` as faust
does, then, while Kafka holds at least `BACKLOG_BATCHES` full batches beyond the batch's, goes on
gathering up to `max_`, for at most `backlog_within` in all (docs/benchmarks.md).

The backlog must be large: a short stall at a steady load leaves a backlog of a batch or two, and
gathering those for longer made every later batch long enough to rebuild it (a full bench's p99
rose from ~0.14 to ~1 s at 100,000 accounts).

It is faust-streaming 0.15's `take_events` with that change to its wait. What it keeps of
faust's contract: a batch is at most `max_` events, acked once the caller took it; a failure
to buffer a message crashes the stream; the stream's buffering processor and ack mode are
restored when it ends. What differs: a batch still gathering when the stream stops is dropped
unacked, not yielded (Redis's applied offsets, not Kafka's, say where a worker resumes).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from mode.utils.futures import notify

BACKLOG_BATCHES = 10  # full batches that must wait in Kafka for a batch to gather on
BACKLOG_TICK = 0.005  # seconds between looks at Kafka's highwaters while a batch gathers on


def keeps_gathering(size: int, max_: int, waiting: int, seconds_left: float) -> bool:
    """Whether a batch of `size` events whose `within` is up goes on gathering: only while
    it is not full, Kafka holds at least `BACKLOG_BATCHES` full batches beyond it (`waiting`),
    and `backlog_within` is not up."""
    return size < max_ and waiting >= BACKLOG_BATCHES * max_ and seconds_left > 0


def take_batches(
    stream: Any, max_: int, within: float, backlog_within: float
) -> AsyncIterator[list[Any]]:
    """Batches of `stream`'s events: at most `max_`, after `within` seconds, or up to
    `backlog_within` seconds while a large backlog waits in Kafka (`keeps_gathering`).
    Registered with the stream as faust registers its own, so that stopping it closes them."""
    batches = _take_batches(stream, max_, within, backlog_within)
    stream._active_agens.add(batches)
    return batches


async def _take_batches(
    stream: Any, max_: int, within: float, backlog_within: float
) -> AsyncIterator[list[Any]]:
    buffer_full = asyncio.Event()
    buffer_consumed = asyncio.Event()
    events: list[Any] = []
    taken: dict[Any, int] = {}  # the last offset in the batch, per topic partition
    buffer_consuming: asyncio.Future[None] | None = None
    enable_acks: bool = stream.enable_acks

    async def add_to_buffer(value: Any) -> Any:
        # The stream's passive drainer runs this for each message, beside the loop below.
        nonlocal buffer_consuming
        try:
            if buffer_consuming is not None:
                try:
                    await buffer_consuming  # the caller holds the batch until it is acked
                finally:
                    buffer_consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("a buffered value without its event")
            events.append(event)
            taken[event.message.tp] = event.message.offset
            if len(events) >= max_:
                buffer_full.set()
                buffer_consumed.clear()
                await stream.wait(buffer_consumed)  # never more than `max_` in a batch
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # as faust's: a stream that cannot buffer stops, loudly
            stream.log.exception("Error adding to take buffer: %r", exc)
            await stream.crash(exc)
        return value

    def waiting() -> int:
        """Messages Kafka held beyond the batch's, in its partitions, at the last fetch."""
        consumer = stream.app.consumer
        total = 0
        for tp, offset in taken.items():
            try:
                high = consumer.highwater(tp)
            except (AssertionError, AttributeError):
                # A rebalance runs on the consumer's own thread: aiokafka asserts the partition
                # is assigned, or finds its state gone between the two. A partition just
                # revoked has no backlog here.
                continue
            if high is not None:
                total += max(0, high - 1 - offset)
        return total

    stream.enable_acks = False  # acked here, once the caller took the batch
    stream.add_processor(add_to_buffer)
    stream._enable_passive(stream.channel)
    loop = stream.loop
    try:
        while not stream.should_stop:
            started = loop.time()
            # mode answers "stopped" on a timeout too: ask the stream itself
            await stream.wait_for_stopped(buffer_full, timeout=within)
            while not stream.should_stop and keeps_gathering(
                len(events),
                max_,
                waiting(),
                seconds_left=started + backlog_within - loop.time(),
            ):
                await stream.wait_for_stopped(buffer_full, timeout=BACKLOG_TICK)
            if stream.should_stop:
                return
            if not events:
                continue
            buffer_consuming = loop.create_future()
            try:
                yield list(events)
            finally:
                for event in events:
                    await stream.ack(event)
                events.clear()
                taken.clear()
                notify(buffer_consuming)
                buffer_full.clear()
                buffer_consumed.set()
    finally:
        stream.enable_acks = enable_acks
        stream._processors.remove(add_to_buffer)
