"""The benchmark's own rules that decide what a figure counts (tests/bench is not collected)."""

from __future__ import annotations

import pytest

from tests.bench.bench_pipeline import (
    REWRITE_AFTERMATH_SECONDS,
    REWRITE_POLL_SECONDS,
    _near_rewrite,
)


@pytest.mark.parametrize(
    ("seen_rewriting", "near"),
    [
        ([], False),
        ([100.0], True),  # a poll saw the rewrite as the change arrived
        ([100.0 - REWRITE_AFTERMATH_SECONDS], True),  # just inside its aftermath
        ([100.0 - REWRITE_AFTERMATH_SECONDS - 0.01], False),
        ([100.0 + REWRITE_POLL_SECONDS], True),  # the next poll saw it: already running
        ([100.0 + REWRITE_POLL_SECONDS + 0.01], False),
        ([90.0, 99.9, 120.0], True),
    ],
)
def test_a_slow_change_counts_as_a_rewrites_within_its_window(
    seen_rewriting: list[float], near: bool
) -> None:
    assert _near_rewrite(100.0, seen_rewriting) is near
