"""A small progress bar on stderr for long inputs (replay, produce), silent when not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Shows `label [#####.....] 48% 120,000 lines 95,000/s`; redrawn at most 4 times a second."""

    def __init__(self, label: str, total_bytes: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total_bytes = max(total_bytes, 1)
        self.stream = stream or sys.stderr  # looked up now: tests and tools swap sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self.last_draw = 0.0

    def update(self, done_bytes: int, lines: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self.last_draw < 0.25:
            return
        self.last_draw = now
        self._draw(done_bytes, lines, now)

    def close(self, lines: int) -> None:
        if self.enabled:
            self._draw(self.total_bytes, lines, time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, done_bytes: int, lines: int, now: float) -> None:
        share = min(done_bytes / self.total_bytes, 1.0)
        filled = int(share * 30)
        rate = lines / max(now - self.started, 1e-9)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} "
            f"{lines:,} lines {rate:,.0f}/s"
        )
        self.stream.flush()
