"""Offset hints to Kafka (streams.runtime.hints): at most one commit per interval, always the
next offset after the last message committed to Redis, never for a partition given up."""

from __future__ import annotations

import pytest
from faust.types import TP

import streams.runtime.hints
from streams.runtime.hints import HINT_INTERVAL, OffsetHints
from streams.runtime.messages import Incoming


def last(partition: int, offset: int, topic: str = "events") -> Incoming:
    return Incoming(topic, partition, offset, b"k", b"{}", 0.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(streams.runtime.hints.time, "monotonic", clock)
    return clock


async def test_hints_are_gathered_between_commits(clock: Clock) -> None:
    sent: list[dict[TP, int]] = []

    async def commit(hints: dict[TP, int]) -> None:
        sent.append(hints)

    hints = OffsetHints(commit)
    await hints.applied([last(0, 9)])
    clock.now += HINT_INTERVAL / 2
    await hints.applied([last(0, 19), last(1, 4)])
    clock.now += HINT_INTERVAL
    await hints.applied([last(1, 7)])

    assert sent == [{TP("events", 0): 10}, {TP("events", 0): 20, TP("events", 1): 8}]


async def test_a_revoked_or_unassigned_partition_is_never_hinted(clock: Clock) -> None:
    sent: list[dict[TP, int]] = []

    async def commit(hints: dict[TP, int]) -> None:
        sent.append(hints)

    hints = OffsetHints(commit)
    await hints.applied([last(0, 1)])
    await hints.applied([last(1, 1), last(2, 1), last(3, 1)])
    hints.forget([TP("events", 1)])
    hints.keep_only([TP("events", 2), TP("events", 3)])
    hints.forget([TP("events", 3)])
    clock.now += HINT_INTERVAL
    await hints.applied([])

    assert sent == [{TP("events", 0): 2}, {TP("events", 2): 2}]
