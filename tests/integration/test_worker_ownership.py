"""Which batches a worker lets through around a rebalance, against the real Redis (the fences).

The rule (streams.runtime.ownership): messages count for a partition only if they were
fetched in the generation that gave this worker the partition, and a batch of a generation whose
assignment is still being taken waits for it instead of being dropped. The end-to-end version
of this is tests/integration/test_pipeline.py's workers joining and leaving mid-stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from faust.types import TP
from redis.exceptions import ResponseError

import streams.runtime.processes
from streams.runtime.topics import EVENTS
from streams.runtime.worker import Worker
from tests.integration.live import in_process_worker

pytestmark = [pytest.mark.redis]


@pytest.fixture
async def worker(redis_client: object, test_id: str) -> AsyncIterator[Worker]:
    runtime = in_process_worker(test_id, partitions=2)
    runtime.rescoring.rescore_owned = _nothing  # type: ignore[method-assign]  # not tested here
    yield runtime
    await runtime.redis.aclose()


async def _nothing() -> None:
    return None


async def assign(worker: Worker, generation: int, partitions: set[int]) -> None:
    """What faust does in a rebalance: revoke everything (eager protocol), set the new
    generation, then send the assignment."""
    topic = worker.settings.topic(EVENTS)
    await worker.on_revoked(None, {TP(topic, p) for p in worker.ownership.fences})
    worker.app.consumer_generation_id = generation
    await worker.on_assigned(None, {TP(topic, p) for p in partitions})


class Recorder:
    def __init__(self) -> None:
        self.tokens: list[str] = []

    async def __call__(self, token: str) -> None:
        self.tokens.append(token)


async def test_messages_of_the_owning_generation_run_under_its_fence(worker: Worker) -> None:
    await assign(worker, 1, {0, 1})
    work = Recorder()
    await worker.ownership.locked(0, work, generation=1)
    assert work.tokens == [worker.ownership.fences[0].token]


async def test_messages_fetched_before_the_rebalance_are_dropped(worker: Worker) -> None:
    """They come again: faust seeks every assigned partition back to its committed offset."""
    await assign(worker, 1, {0, 1})
    await assign(worker, 2, {0})
    work = Recorder()
    await worker.ownership.locked(0, work, generation=1)
    await worker.ownership.locked(1, work, generation=2)  # no longer owned
    assert work.tokens == []
    await worker.ownership.locked(0, work, generation=2)
    assert work.tokens == [worker.ownership.fences[0].token]


async def test_a_batch_of_an_assignment_in_progress_waits_for_its_fence(worker: Worker) -> None:
    await assign(worker, 1, {0})
    work = Recorder()
    # Faust resumed the stream before this worker's handler took the new fences.
    early = asyncio.create_task(worker.ownership.locked(1, work, generation=2))
    await asyncio.sleep(0.05)
    assert not early.done() and work.tokens == []
    await assign(worker, 2, {0, 1})
    await asyncio.wait_for(early, 5)
    assert work.tokens == [worker.ownership.fences[1].token]


async def test_a_partition_it_cannot_take_stops_the_worker(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error that is no outage (here Redis refusing the fence's call): stopping (the
    supervisor restarts it, and the log says why) beats holding fences it never uses."""
    exits: list[int] = []

    async def refused(partition: int) -> str:
        raise ResponseError("ERR unknown command")

    def exit_(code: int) -> None:
        exits.append(code)

    worker.ownership.take_fence = refused
    monkeypatch.setattr(streams.runtime.processes.os, "_exit", exit_)
    monkeypatch.setattr(streams.runtime.processes.logging, "shutdown", lambda: None)

    await assign(worker, 1, {0})

    assert exits == [70]
    assert 0 not in worker.ownership.fences


async def test_a_newly_owned_partition_forgets_a_rescoring_to_other_versions(
    worker: Worker,
) -> None:
    """Until its own rescoring marks them, the new owner ranks accounts under its versions among
    others: the top query must not trust tier ceilings there (`StateStore.top`)."""
    await worker.store.mark_rescored(0, "new-business:0")
    await worker.store.mark_rescored(1, worker.versions)

    await assign(worker, 1, {0, 1})

    assert await worker.store.rescored_versions(0) is None
    assert await worker.store.rescored_versions(1) == worker.versions
