"""The benchmark's own rules that decide what a figure counts (tests/bench is not collected)."""

from __future__ import annotations

import pytest

from tests.bench.bench_pipeline import (
    REWRITE_AFTERMATH_SECONDS,
    REWRITE_POLL_SECONDS,
    _frame_name,
    _is_ours,
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


@pytest.mark.parametrize(
    ("frame", "name", "ours"),
    [
        (
            "Pipeline.events_batch (/src/scorer/streams/runtime/pipeline.py:120)",
            "Pipeline.events_batch (streams/runtime/pipeline.py)",
            True,
        ),
        (
            "Engine.dump_many (/src/scorer/scoring/engine.py:3)",
            "Engine.dump_many (scoring/engine.py)",
            True,
        ),
        ("run (/src/scorer/streams/cli/worker.py:9)", "run (streams/cli/worker.py)", False),
        ("select (/usr/lib/python3.11/selectors.py:4)", "select (python3.11/selectors.py)", False),
    ],
)
def test_the_profile_names_our_frames_by_their_path_in_the_package(
    frame: str, name: str, ours: bool
) -> None:
    assert _frame_name(frame) == name
    assert _is_ours(name) is ours
