"""Which accounts a worker rescores after a model version change, against the real Redis.

The rule (streams.runtime.rescoring.Rescoring.rescore_owned): one walk of the keyspace lists the
accounts of every owned partition not yet at the loaded versions; each such partition gets all of
its accounts, in chunks, and its versions are recorded once they are all rescored. The rescoring
itself (scores, tier changes) is tested end to end in test_worker_features.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

import streams.runtime.rescoring
from streams.runtime.ownership import Fence
from streams.runtime.pipeline import BatchReport
from streams.runtime.worker import Worker
from streams.store.commit import AccountWrite
from tests.integration.live import in_process_worker

pytestmark = [pytest.mark.redis]


class RescoreRecorder:
    """Stands in for `Pipeline.rescore`: records each chunk; optionally loses a partition, or
    finds one chunk fenced (another worker took the partition for a moment)."""

    def __init__(
        self,
        worker: Worker,
        lose_after: dict[int, int] | None = None,
        fenced: dict[int, int] | None = None,
    ) -> None:
        self.worker = worker
        self.chunks: list[tuple[int, list[str]]] = []
        self.lose_after = lose_after or {}  # partition -> chunks rescored before it is lost
        self.fenced = fenced or {}  # partition -> the chunk (1-based) whose commit is fenced

    async def __call__(
        self, partition: int, token: str, account_ids: Sequence[str], now: float
    ) -> BatchReport:
        assert token == self.worker.ownership.fences[partition].token
        self.chunks.append((partition, list(account_ids)))
        count = sum(p == partition for p, _ in self.chunks)
        if count == self.lose_after.get(partition):
            self.worker.ownership.drop([partition])
        # As if the first account of each chunk was already current.
        rescored = dict.fromkeys(account_ids[1:], ("new-business",))
        return BatchReport(fenced=count == self.fenced.get(partition), rescored=rescored)


@pytest.fixture
async def worker(
    redis_client: object, test_id: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Worker]:
    monkeypatch.setattr(streams.runtime.rescoring, "RESCORE_CHUNK", 3)
    runtime = in_process_worker(test_id, partitions=4)

    async def no_publish(partition: int, token: str) -> int:
        return 0

    runtime.pipeline.publish_outbox = no_publish  # type: ignore[method-assign]  # none there
    yield runtime
    await runtime.redis.aclose()


async def store_accounts(worker: Worker, accounts: dict[int, list[str]]) -> None:
    for partition, ids in accounts.items():
        token = await worker.store.take_fence(partition)
        writes = [AccountWrite(a, {"m": b"meta"}) for a in ids]
        await worker.store.commit(partition, token, "events", 1, writes, [], {})


def rescored_count(worker: Worker, model: str) -> float | None:
    """`scorer_rescored_accounts_total` of the model; None before its first account."""
    sample = worker.metrics.registry.get_sample_value
    return sample("scorer_rescored_accounts_total", {"model": model})


async def own(worker: Worker, partitions: Sequence[int]) -> None:
    for partition in partitions:
        worker.ownership.fences[partition] = Fence(await worker.store.take_fence(partition), 1)


ACCOUNTS = {
    0: [f"a{i}" for i in range(7)],
    1: ["b0", "b1"],
    2: ["c0", "c1", "c2", "c3"],
    3: ["d0"],
}


async def test_each_stale_owned_partition_gets_all_its_accounts_in_chunks(
    worker: Worker,
) -> None:
    await store_accounts(worker, ACCOUNTS)
    await worker.store.mark_rescored(1, worker.versions)  # already at the loaded versions
    await own(worker, [0, 1, 3])  # partition 2 belongs to another worker
    recorder = RescoreRecorder(worker)
    worker.pipeline.rescore = recorder  # type: ignore[method-assign]

    await worker.rescoring.rescore_owned()

    rescored: dict[int, list[str]] = {}
    for partition, ids in recorder.chunks:
        assert 1 <= len(ids) <= 3
        rescored.setdefault(partition, []).extend(ids)
    assert {p: sorted(ids) for p, ids in rescored.items()} == {0: ACCOUNTS[0], 3: ACCOUNTS[3]}
    assert rescored_count(worker, "new-business") == sum(len(ids) - 1 for _, ids in recorder.chunks)
    assert rescored_count(worker, "expansion") is None  # no account of it was rescored
    for partition in (0, 1, 3):
        assert await worker.store.rescored_versions(partition) == worker.versions
    assert await worker.store.rescored_versions(2) is None


async def test_a_partition_lost_midway_is_not_recorded_as_rescored(worker: Worker) -> None:
    await store_accounts(worker, ACCOUNTS)
    await own(worker, [0, 2])
    recorder = RescoreRecorder(worker, lose_after={0: 1})
    worker.pipeline.rescore = recorder  # type: ignore[method-assign]

    await worker.rescoring.rescore_owned()

    assert sum(p == 0 for p, _ in recorder.chunks) == 1  # then skipped: no longer owned
    assert sorted(a for p, ids in recorder.chunks if p == 2 for a in ids) == ACCOUNTS[2]
    assert await worker.store.rescored_versions(0) is None
    assert await worker.store.rescored_versions(2) == worker.versions


async def test_a_fenced_chunk_leaves_the_versions_alone(worker: Worker) -> None:
    await store_accounts(worker, ACCOUNTS)
    await own(worker, [0])
    recorder = RescoreRecorder(worker, fenced={0: 2})
    worker.pipeline.rescore = recorder  # type: ignore[method-assign]

    await worker.rescoring.rescore_owned()

    assert sorted(a for _, ids in recorder.chunks for a in ids) == ACCOUNTS[0]
    assert await worker.store.rescored_versions(0) is None  # the next assignment tries again


async def test_the_walk_goes_on_after_redis_drops_a_step(worker: Worker) -> None:
    await store_accounts(worker, ACCOUNTS)
    await own(worker, [0, 1])
    recorder = RescoreRecorder(worker)
    worker.pipeline.rescore = recorder  # type: ignore[method-assign]
    steps = worker.store.account_ids
    failed: list[int] = []

    async def one_step_lost(cursor: int, count: int) -> tuple[int, list[tuple[int, str]]]:
        if not failed:
            failed.append(cursor)
            raise RedisConnectionError("connection reset")
        return await steps(cursor, count)

    worker.store.account_ids = one_step_lost  # type: ignore[method-assign]

    await worker.rescoring.rescore_owned()

    assert failed == [0]
    rescored = sorted((p, a) for p, ids in recorder.chunks for a in ids)
    assert rescored == [(p, a) for p in (0, 1) for a in sorted(ACCOUNTS[p])]
    assert await worker.store.rescored_versions(0) == worker.versions
