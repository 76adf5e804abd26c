"""The problems found in one model file, and how values and places are written in them."""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from typing import Final

from scoring.errors import ModelProblem


class _Absent:
    """Marks a key that the mapping does not hold (YAML `null` is a value, not an absence)."""


ABSENT: Final = _Absent()


class Problems:
    """The problems found so far in one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.found: list[ModelProblem] = []

    def add(self, place: str, rule: str) -> None:
        """Records that the value at `place` breaks `rule`."""
        self.found.append(ModelProblem(self.file, place, rule))

    def mark(self) -> int:
        """A checkpoint for `clean_since`."""
        return len(self.found)

    def clean_since(self, mark: int) -> bool:
        """True when no problem was recorded after `mark`."""
        return len(self.found) == mark


def finite(value: int | float) -> bool:
    """True for a number a float can hold exactly enough and that is not inf or nan."""
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range
        return False


def join_place(place: str, key: str) -> str:
    """`place.key`, or `key` at the top level."""
    return f"{place}.{key}" if place else key


def did_you_mean(word: object, choices: Sequence[str]) -> str:
    """` (did you mean 'weight'?)` when `word` is close to one of `choices`, else ''."""
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def number_text(number: float) -> str:
    """A number as a model author wrote it: 70, 0.5, -15."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def shown(value: object) -> str:
    """A short description of a YAML value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, int | float):
        return number_text(float(value)) if finite(value) else repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
