"""A progress bar on stderr for long inputs (replay, produce), drawn by rich; silent when the
stream is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress

UPDATE_INTERVAL = 0.25
"""Seconds between two updates of the bar: callers report every line, rich need not hear it."""


class Progress:
    """Shows `label ━━━━━━━━━━╸━━━━━━━━━  48% 120,000 lines 95,000/s 0:00:01` for an input of
    `total_bytes`; `update` as lines are read, `close` once all are. Used as a context manager,
    so that the bar stops (and the terminal gets its cursor back) however the input ends."""

    def __init__(self, label: str, total_bytes: int, stream: TextIO | None = None) -> None:
        stream = stream or sys.stderr  # looked up now: tests and tools swap sys.stderr
        self.enabled = stream.isatty()
        self.started = time.monotonic()
        self.updated_at = 0.0
        self._bar = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[lines]:,} lines {task.fields[rate]:,.0f}/s"),
            TimeElapsedColumn(),
            console=Console(file=stream),
            disable=not self.enabled,
            refresh_per_second=4,
        )
        self._task = self._bar.add_task(label, total=max(total_bytes, 1), lines=0, rate=0.0)
        if self.enabled:
            self._bar.start()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_: object) -> None:
        self._bar.stop()

    def update(self, done_bytes: int, lines: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.updated_at < UPDATE_INTERVAL:
            return
        self.updated_at = now
        self._show(done_bytes, lines, now)

    def close(self, lines: int) -> None:
        if self.enabled:
            task = self._bar.tasks[0]
            self._show(int(task.total or 0), lines, time.monotonic())
            self._bar.stop()

    def _show(self, done_bytes: int, lines: int, now: float) -> None:
        rate = lines / max(now - self.started, 1e-9)
        self._bar.update(self._task, completed=done_bytes, lines=lines, rate=rate)
