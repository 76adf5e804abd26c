"""Readers of one value: each records what is wrong with it and returns a stand-in of the
right type, so that reading goes on and every problem of the file is found."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import TypeVar

from scoring.loader.problems import (
    ABSENT,
    Problems,
    did_you_mean,
    finite,
    join_place,
    number_text,
    shown,
)
from scoring.loader.rules import DURATION_RULE
from scoring.timefmt import parse_duration

T = TypeVar("T")


def read_mapping(
    problems: Problems, value: object, place: str, allowed: Sequence[str]
) -> dict[str, object] | None:
    """`value` as a mapping holding only `allowed` keys; None when it is no mapping at all."""
    if not isinstance(value, dict):
        problems.add(place, f"must be a mapping with keys {', '.join(allowed)}, got {shown(value)}")
        return None
    return known_fields(problems, value, place, allowed)


def known_fields(
    problems: Problems, value: dict[object, object], place: str, allowed: Sequence[str]
) -> dict[str, object]:
    """The `allowed` keys of `value`; every other key is reported, with a hint when close."""
    fields: dict[str, object] = {}
    for key, item in value.items():
        if isinstance(key, str) and key in allowed:
            fields[key] = item
            continue
        hint = did_you_mean(key, allowed) or f" (allowed here: {', '.join(allowed)})"
        problems.add(join_place(place, str(key)), f"unknown key{hint}")
    return fields


def read_items(problems: Problems, value: object, place: str) -> list[object]:
    """`value` as a non-empty list."""
    if value is ABSENT:
        problems.add(place, "required key is missing")
        return []
    if not isinstance(value, list) or not value:
        got = "it is empty" if isinstance(value, list) else f"got {shown(value)}"
        problems.add(place, f"must be a non-empty list ({got})")
        return []
    return value


def read_number(
    problems: Problems,
    value: object,
    place: str,
    *,
    above: float | None = None,
    at_least: float | None = None,
) -> float:
    """A finite int or float (never a boolean), optionally `> above` or `>= at_least`."""
    if value is ABSENT:
        problems.add(place, "required key is missing")
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not finite(value):
        problems.add(place, f"must be a finite number, got {shown(value)}")
        return 0.0
    number = float(value)
    if above is not None and not number > above:
        problems.add(place, f"must be greater than {number_text(above)}, got {number_text(number)}")
    if at_least is not None and number < at_least:
        problems.add(place, f"must be at least {number_text(at_least)}, got {number_text(number)}")
    return number


def read_score(problems: Problems, value: object, place: str, scale: float | None) -> float:
    """A number in [0, scale]; when the scale itself is broken, only >= 0 is checked."""
    mark = problems.mark()
    score = read_number(problems, value, place, at_least=0)
    if scale is not None and problems.clean_since(mark) and score > scale:
        problems.add(
            place,
            f"must be between 0 and the model's scale {number_text(scale)}, "
            f"got {number_text(score)}",
        )
    return score


def read_integer(problems: Problems, value: object, place: str, *, at_least: int) -> int:
    """An int (never a boolean, never a float such as 3.0) `>= at_least`."""
    if value is ABSENT:
        problems.add(place, "required key is missing")
        return at_least
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(place, f"must be a whole number, got {shown(value)}")
        return at_least
    if value < at_least:
        problems.add(place, f"must be at least {at_least}, got {value}")
    return value


def read_flag(problems: Problems, value: object, place: str) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        problems.add(place, f"must be true or false, got {shown(value)}")
        return False
    return value


def read_text(problems: Problems, value: object, place: str, *, non_empty: bool = False) -> str:
    """A string; `non_empty` refuses '' and blanks."""
    if value is ABSENT:
        problems.add(place, "required key is missing")
        return ""
    if not isinstance(value, str):
        problems.add(place, f"must be a string, got {shown(value)}")
        return ""
    if non_empty and not value.strip():
        problems.add(place, "must not be empty")
    return value


def read_ident(
    problems: Problems, value: object, place: str, pattern: re.Pattern[str], rule: str
) -> str:
    """A string matching `pattern` in full; `rule` says the pattern in words."""
    mark = problems.mark()
    text = read_text(problems, value, place)
    if problems.clean_since(mark) and not pattern.fullmatch(text):
        problems.add(place, f"{rule}, got {shown(text)}")
    return text


def read_duration(problems: Problems, value: object, place: str) -> float:
    """`14d`, `36h`, `90m`, `30s` -> seconds, > 0."""
    if value is ABSENT:
        problems.add(place, "required key is missing")
        return 0.0
    try:
        seconds = parse_duration(value) if isinstance(value, str) else math.nan
    except ValueError:
        seconds = math.nan
    if math.isnan(seconds):
        problems.add(place, f"{DURATION_RULE}, got {shown(value)}")
    elif seconds <= 0:
        problems.add(place, f"must be longer than 0, got {shown(value)}")
    return seconds


def read_field_path(problems: Problems, value: object, place: str) -> tuple[str, ...]:
    """A dotted path into the profile (`employees`, `owner.email`), split on '.'."""
    mark = problems.mark()
    text = read_text(problems, value, place)
    segments = tuple(text.split("."))
    if problems.clean_since(mark) and not all(s and s == s.strip() for s in segments):
        rule = "must be a dotted path of non-empty names, such as employees or owner.email"
        problems.add(place, f"{rule}, got {shown(text)}")
    return segments


def clean(elements: Iterable[T | None]) -> tuple[T, ...]:
    """The elements that were read cleanly (the others are reported already)."""
    return tuple(element for element in elements if element is not None)
