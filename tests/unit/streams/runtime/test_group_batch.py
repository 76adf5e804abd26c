"""How the worker groups a faust batch: per topic, partition and consumer generation."""

from __future__ import annotations

from types import SimpleNamespace

from streams.runtime.messages import group_batch


def test_a_batch_taken_across_a_rebalance_splits_by_generation() -> None:
    def event(partition: int, offset: int, generation: int) -> SimpleNamespace:
        message = SimpleNamespace(
            topic="t",
            partition=partition,
            offset=offset,
            key=b"k",
            value=b"{}",
            timestamp=0.0,
            headers=None,
            generation_id=generation,
        )
        return SimpleNamespace(message=message)

    groups = group_batch([event(0, 7, 1), event(0, 8, 1), event(1, 3, 1), event(0, 5, 2)])
    assert {key: [m.offset for m in ms] for key, ms in groups.items()} == {
        ("t", 0, 1): [7, 8],
        ("t", 1, 1): [3],
        ("t", 0, 2): [5],
    }
