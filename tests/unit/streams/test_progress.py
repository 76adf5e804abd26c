"""The progress bar of long commands (streams.progress): drawn on a terminal, silent elsewhere."""

from __future__ import annotations

import io

import pytest

from streams.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_label_the_share_and_the_lines() -> None:
    stream = Terminal()
    progress = Progress("events", 1_000, stream)
    progress.update(500, 12_345)
    progress.close(24_000)
    shown = stream.getvalue()
    assert "events" in shown
    assert "100%" in shown
    assert "24,000 lines" in shown


def test_nothing_is_written_when_the_stream_is_no_terminal() -> None:
    stream = io.StringIO()
    progress = Progress("events", 1_000, stream)
    progress.update(500, 10)
    progress.close(20)
    assert stream.getvalue() == ""


def test_a_bar_left_by_an_error_stops_and_gives_the_cursor_back() -> None:
    stream = Terminal()
    with pytest.raises(ValueError), Progress("events", 1_000, stream) as progress:
        progress.update(500, 10)
        raise ValueError("a bad file")
    assert stream.getvalue().endswith("\x1b[?25h")  # the cursor shown again
