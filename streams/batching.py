"""Batches of a faust stream that grow while a backlog waits, and stay short at a steady load.

faust's `Stream.take_events(max_, within)` yields a batch when it holds `max_` events or
`within` seconds after the last batch. That one wait serves two loads badly: at a steady load
each event waits out the rest of `within`, so it should be short; under a backlog faust's own
delivery (~50 µs per message) fills a batch of only a few hundred within it, and each batch
costs a commit and a publish per partition, so it should be long (docs/benchmarks.md).
`take_batches` waits `within` as faust does, then, while Kafka holds enough messages beyond the
batch's to fill it (a backlog), goes on gathering up to `max_` or for `backlog_within` in all.

It is faust-streaming 0.15's `take_events` with that one change to its wait, and keeps the rest
of its contract: a batch is at most `max_` events, they are acked once the caller took the
batch, and the stream's buffering processor and ack mode are restored when it ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from mode.utils.futures import notify

BACKLOG_TICK = 0.001  # seconds between looks at the stream while a backlog batch gathers


def keeps_gathering(size: int, max_: int, waiting: int, seconds_left: float) -> bool:
    """Whether a batch of `size` events whose `within` is up goes on gathering: only while
    Kafka holds enough messages it has not taken (`waiting`) to fill it to `max_` (a backlog;
    at a steady load the fetched messages are all taken by then) and `backlog_within` is not
    up."""
    return size < max_ and waiting >= max_ - size and seconds_left > 0


async def take_batches(
    stream: Any, max_: int, within: float, backlog_within: float
) -> AsyncIterator[list[Any]]:
    """Batches of `stream`'s events: at most `max_`, after `within` seconds, or up to
    `backlog_within` seconds while a backlog waits in Kafka (`keeps_gathering`)."""
    buffer_full = asyncio.Event()
    buffer_consumed = asyncio.Event()
    events: list[Any] = []
    taken: dict[Any, int] = {}  # the last offset in the batch, per topic partition
    buffer_consuming: asyncio.Future[None] | None = None
    enable_acks: bool = stream.enable_acks

    async def add_to_buffer(value: Any) -> Any:
        # The stream's passive drainer runs this for each message, beside the loop below.
        nonlocal buffer_consuming
        if buffer_consuming is not None:
            try:
                await buffer_consuming  # the caller holds the batch: wait until it is acked
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
        return value

    def waiting() -> int:
        """Messages Kafka held beyond the batch's, in its partitions, at the last fetch."""
        consumer = stream.app.consumer
        assigned = consumer.assignment()  # aiokafka refuses the highwater of any other
        highwaters = (
            (consumer.highwater(tp), offset) for tp, offset in taken.items() if tp in assigned
        )
        return sum(max(0, high - 1 - offset) for high, offset in highwaters if high is not None)

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
