"""The faust app built from `Settings`: its Kafka consumer's fetch wait and size, its delivery of
each message, its working directory, and no faust monitor (streams/runtime/app.py)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import tempfile
import types
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from faust.transport.consumer import Consumer as FaustConsumer
from faust.types import TP

from streams.runtime.app import create_app
from streams.settings import Settings


def test_the_worker_consumer_fetches_as_configured() -> None:
    async def created_fetch(settings: Settings) -> tuple[int, int]:
        app = create_app(settings)
        # The aiokafka consumer the consumer thread starts; creating it connects to nothing.
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return int(consumer._fetch_max_wait_ms), int(consumer._fetch_min_bytes)
        finally:
            await consumer.stop()

    configured = Settings(kafka_fetch_max_wait=0.03, kafka_fetch_min_bytes=1024)
    assert asyncio.run(created_fetch(configured)) == (30, 1024)
    # faust-streaming's own wait is 1500 ms and aiokafka's minimum 1 byte: the defaults must
    # stay far from both.
    assert asyncio.run(created_fetch(Settings())) == (20, 65536)


def test_faust_working_directory_is_under_the_data_dir(tmp_path: Path) -> None:
    # Not the directory the worker runs in: every test and bench run left one there.
    app = create_app(Settings(data_dir=tmp_path, app_id="scorer-a"))
    assert app.conf.datadir == tmp_path / "scorer-a-data"
    assert Settings().data_dir == Path(tempfile.gettempdir())


def test_faust_monitor_is_not_a_sensor_of_the_app() -> None:
    app = create_app(Settings())
    app.on_init_dependencies()  # what the worker calls when it starts the app
    assert app.monitor not in set(app.sensors)


# The consumer's delivery of each fetched message (`_Consumer._deliver`): faust's contract of
# `wait_first(delivery, suspend_flow.wait())`, with one task per message instead of four.


def test_fausts_fetch_loop_is_the_one_the_app_consumer_copies() -> None:
    # `_Consumer._drain_messages` is faust-streaming 0.15.3's, step for step, but for the
    # delivery and the fetch's timeout: a faust whose loop changed needs it copied again.
    source = inspect.getsource(FaustConsumer._drain_messages)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417"
    ), "faust's Consumer._drain_messages changed: copy it into streams/runtime/app.py again"


async def _fetch_timeouts(settings: Settings, held_back: bool) -> list[float]:
    """The timeouts the app consumer's fetch loop passes to `getmany` over three turns, with
    one partition held back by a full stream buffer or none."""
    consumer = create_app(settings).consumer
    if held_back:
        consumer.on_buffer_full(TP("events", 0))
    timeouts: list[float] = []

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, object]]:
        timeouts.append(timeout)
        if len(timeouts) == 3:
            consumer._stopped.set()
        return
        yield  # an async generator that fetches nothing

    consumer.getmany = getmany
    fetcher = types.SimpleNamespace(_stopped=asyncio.Event())
    await asyncio.wait_for(consumer._drain_messages(fetcher), 5)
    return timeouts


async def test_the_fetch_waits_briefly_while_a_full_stream_buffer_holds_a_partition_back() -> None:
    # faust waits its whole second for the other partitions, and one that comes back waits too.
    settings = Settings(kafka_fetch_max_wait=0.03)
    assert await _fetch_timeouts(settings, held_back=True) == [0.03] * 3
    assert await _fetch_timeouts(settings, held_back=False) == [1.0] * 3
    # never longer than faust's own
    assert await _fetch_timeouts(Settings(kafka_fetch_max_wait=1.5), held_back=True) == [1.0] * 3


async def _fetch_once(consumer: Any, tp: TP, offsets: list[int], fausts: bool) -> None:
    """Runs the app's fetch loop (or faust's) over one fetch of `offsets` from `tp`."""

    async def getmany(timeout: float) -> AsyncIterator[tuple[TP, object]]:
        for offset in offsets:
            yield tp, types.SimpleNamespace(offset=offset, topic=tp.topic, key=None, value=b"")
        consumer._stopped.set()

    consumer.getmany = getmany
    fetcher = types.SimpleNamespace(_stopped=asyncio.Event())
    drain = FaustConsumer._drain_messages if fausts else type(consumer)._drain_messages
    await asyncio.wait_for(drain(consumer, fetcher), 5)


@pytest.mark.parametrize("fausts", [False, True], ids=["the app's loop", "faust's loop"])
async def test_the_fetch_loop_delivers_in_order_drops_what_it_has_read_and_records_gaps(
    fausts: bool,
) -> None:
    # The copied loop's own steps, the same as faust's: read offsets, dropped re-reads, gaps
    # for topics with acks (the scorer's input topics have none; the loop keeps faust's way).
    consumer = create_app(Settings()).consumer
    tp = TP("events", 0)
    fetched = [5, 6, 4, 9, 10]  # 4 was read before; 7 and 8 never came
    delivered: list[int] = []
    gaps: list[tuple[int, int]] = []

    async def callback(message: types.SimpleNamespace) -> None:
        delivered.append(message.offset)

    async def add_gap(tp_: TP, offset_from: int, offset_to: int) -> None:
        gaps.append((offset_from, offset_to))

    consumer.callback = callback
    consumer._add_gap = add_gap
    consumer.app.topics.acks_enabled_for = lambda topic: True
    await _fetch_once(consumer, tp, fetched, fausts)
    assert delivered == [5, 6, 9, 10]
    assert consumer._read_offset[tp] == 10
    assert gaps == [(7, 9)]


@pytest.mark.parametrize("fausts", [False, True], ids=["the app's loop", "faust's loop"])
async def test_the_fetch_loop_commits_before_a_delivery_once_enough_were_acked(
    fausts: bool,
) -> None:
    # faust's `broker_commit_every`: the loop itself commits once that many messages were acked
    # (the acks count up elsewhere), then counts again from zero.
    consumer = create_app(Settings()).consumer
    tp = TP("events", 0)
    steps: list[str] = []

    async def callback(message: types.SimpleNamespace) -> None:
        steps.append(f"deliver {message.offset}")
        if message.offset == 2:
            consumer._n_acked = 3  # acked meanwhile

    async def commit() -> None:
        steps.append(f"commit, the count reset to {consumer._n_acked}")

    consumer.callback = callback
    consumer.commit = commit
    consumer._commit_every = 3
    consumer._n_acked = 1
    await _fetch_once(consumer, tp, [1, 2, 3, 4], fausts)
    assert steps == [
        "deliver 1",
        "deliver 2",
        "commit, the count reset to 0",
        "deliver 3",
        "deliver 4",
    ]
    assert consumer._n_acked == 0


async def _blocked_delivery(cancelled: list[bool]) -> None:
    try:
        await asyncio.Event().wait()  # a stream buffer that never has room
    except asyncio.CancelledError:
        cancelled.append(True)
        raise


async def test_a_delivery_runs_to_its_end_in_a_task_of_its_own() -> None:
    consumer = create_app(Settings()).consumer
    ran_in: list[asyncio.Task[object] | None] = []

    async def delivery() -> None:
        await asyncio.sleep(0)
        ran_in.append(asyncio.current_task())

    await consumer._deliver(delivery())
    assert ran_in and ran_in[0] is not asyncio.current_task()


async def test_a_delivery_error_reaches_the_fetch_loop() -> None:
    consumer = create_app(Settings()).consumer

    async def delivery() -> None:
        raise ValueError("undeliverable")

    with pytest.raises(ValueError, match="undeliverable"):
        await consumer._deliver(delivery())


@pytest.mark.parametrize(
    "interrupt",
    [
        pytest.param(lambda c: c.stop_flow(), id="the flow is suspended (a rebalance)"),
        pytest.param(lambda c: c._stopped.set(), id="the consumer stops"),
        pytest.param(lambda c: c._crashed.set(), id="the consumer crashes"),
    ],
)
async def test_a_blocked_delivery_is_cancelled_when(interrupt: Callable[[Any], None]) -> None:
    consumer = create_app(Settings()).consumer
    cancelled: list[bool] = []
    fetch_loop = asyncio.create_task(consumer._deliver(_blocked_delivery(cancelled)))
    await asyncio.sleep(0.01)
    assert not fetch_loop.done()
    interrupt(consumer)
    await asyncio.wait_for(fetch_loop, 1)  # returns, as faust's wait_first does
    assert cancelled == [True]


async def test_cancelling_the_fetch_loop_cancels_its_delivery_and_is_not_swallowed() -> None:
    consumer = create_app(Settings()).consumer
    cancelled: list[bool] = []
    fetch_loop = asyncio.create_task(consumer._deliver(_blocked_delivery(cancelled)))
    await asyncio.sleep(0.01)
    fetch_loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fetch_loop
    assert cancelled == [True]


async def test_while_the_flow_is_suspended_a_blocked_delivery_is_given_up_at_once() -> None:
    consumer = create_app(Settings()).consumer
    consumer.stop_flow()
    cancelled: list[bool] = []
    await asyncio.wait_for(consumer._deliver(_blocked_delivery(cancelled)), 1)
    assert cancelled == [True]


async def test_after_the_flow_resumes_deliveries_wait_again_and_a_new_suspension_stops_them() -> (
    None
):
    consumer = create_app(Settings()).consumer
    first: list[bool] = []
    fetch_loop = asyncio.create_task(consumer._deliver(_blocked_delivery(first)))
    await asyncio.sleep(0.01)
    consumer.stop_flow()
    await asyncio.wait_for(fetch_loop, 1)
    consumer.resume_flow()

    second: list[bool] = []
    fetch_loop = asyncio.create_task(consumer._deliver(_blocked_delivery(second)))
    await asyncio.sleep(0.05)
    assert not fetch_loop.done() and second == []  # the old suspension cancels nothing now
    consumer.stop_flow()
    await asyncio.wait_for(fetch_loop, 1)
    assert first == [True] and second == [True]


async def test_a_suspension_undone_before_the_watcher_runs_leaves_the_delivery_to_the_next() -> (
    None
):
    consumer = create_app(Settings()).consumer
    cancelled: list[bool] = []
    fetch_loop = asyncio.create_task(consumer._deliver(_blocked_delivery(cancelled)))
    await asyncio.sleep(0.01)
    consumer.stop_flow()
    consumer.resume_flow()  # before the watcher saw it: faust would not cancel now either
    await asyncio.sleep(0.05)
    assert not fetch_loop.done() and cancelled == []
    consumer.stop_flow()
    await asyncio.wait_for(fetch_loop, 1)
    assert cancelled == [True]


async def test_a_fetch_loop_that_once_held_on_to_a_cancellation_is_still_interrupted_cleanly() -> (
    None
):
    # Python counts a task's cancellations until something calls `uncancel()`; one a library
    # swallowed earlier must not make the watcher's interruption look like the loop's own.
    consumer = create_app(Settings()).consumer
    cancelled: list[bool] = []

    async def fetch_loop() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)
        await consumer._deliver(_blocked_delivery(cancelled))

    looping = asyncio.create_task(fetch_loop())
    await asyncio.sleep(0.01)
    looping.cancel()
    await asyncio.sleep(0.01)
    assert not looping.done()
    consumer.stop_flow()
    await asyncio.wait_for(looping, 1)  # returns rather than raising CancelledError
    assert cancelled == [True]
