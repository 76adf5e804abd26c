"""Rules between the elements of one list: unique names, strictly falling mins."""

from __future__ import annotations

from collections.abc import Sequence

from scoring.loader.problems import Problems, number_text


def check_unique(
    problems: Problems, items: Sequence[object], place: str, key: str, what: str
) -> None:
    """Among mapping `items`, the string values of `key` are unique."""
    first_index: dict[str, int] = {}
    for i, item in enumerate(items):
        name = item.get(key) if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in first_index:
            problems.add(
                f"{place}[{i}].{key}",
                f"{what} '{name}' is already used by {place}[{first_index[name]}]",
            )
        first_index.setdefault(name, i)


def check_falling(
    problems: Problems, place: str, floors: Sequence[tuple[int, float]], what: str
) -> None:
    """`floors` ((index, min) in list order) strictly fall."""
    for (i, upper), (j, lower) in zip(floors, floors[1:], strict=False):
        if lower >= upper:
            problems.add(
                place,
                f"min must fall from {what} to {what}: {what}s[{j}].min {number_text(lower)} "
                f"is not below {what}s[{i}].min {number_text(upper)}",
            )
