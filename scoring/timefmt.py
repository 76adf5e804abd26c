"""RFC 3339 <-> Unix epoch seconds (UTC float), the one time representation inside `scoring`.

Times are written by the native core's formatter (`scoring._core.format_rfc3339`), the one
home of that rule: explanations and the replay's lines, written in Rust, use it too.
"""

from __future__ import annotations

from datetime import datetime

from scoring import _core

DAY = 86_400.0


class InvalidTimestamp(ValueError):
    """A string that is not an RFC 3339 date-time with an offset."""


def parse_rfc3339(text: str) -> float:
    """`2026-11-23T10:00:00Z` or `...+02:00` -> epoch seconds. The offset is required."""
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError) as err:
        raise InvalidTimestamp(f"not an RFC 3339 date-time: {text!r}") from err
    if parsed.tzinfo is None or len(text) < 20 or text[10] not in "Tt ":
        raise InvalidTimestamp(f"RFC 3339 date-time with offset required: {text!r}")
    return parsed.timestamp()


def format_rfc3339(epoch: float) -> str:
    """Epoch seconds -> `2026-11-23T10:00:00.123456Z` (microseconds, rounded half to even, only
    when non-zero). Raises InvalidTimestamp for a time that is not finite or outside years 1 to
    9999."""
    text = _core.format_rfc3339(epoch)
    if text is None:
        raise InvalidTimestamp(f"no RFC 3339 date-time for epoch seconds {epoch!r}")
    return text


def utc_day(epoch: float) -> int:
    """The UTC day number (days since 1970-01-01) of an instant: the daily-cap bucket."""
    return int(epoch // DAY)


def parse_duration(text: str) -> float:
    """`14d`, `36h`, `90m`, `30s` (number + unit) -> seconds; raises ValueError when malformed."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY}
    if not isinstance(text, str) or len(text) < 2 or text[-1] not in units:
        raise ValueError(f"duration must be a number followed by s, m, h or d: {text!r}")
    try:
        amount = float(text[:-1])
    except ValueError as err:
        raise ValueError(f"duration must be a number followed by s, m, h or d: {text!r}") from err
    if amount != amount or amount in (float("inf"), float("-inf")):
        raise ValueError(f"duration must be finite: {text!r}")
    return amount * units[text[-1]]
