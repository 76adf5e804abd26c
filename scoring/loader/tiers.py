"""A model's `tiers`: names, falling mins, the last at 0."""

from __future__ import annotations

from scoring.loader.checks import check_falling, check_unique
from scoring.loader.problems import ABSENT, Problems, number_text
from scoring.loader.rules import MAX_TIERS, TIER_KEYS, TOTAL_MAX
from scoring.loader.values import clean, read_flag, read_items, read_mapping, read_number, read_text
from scoring.model import Tier


def read_tiers(problems: Problems, value: object, place: str) -> tuple[Tier, ...]:
    """Non-empty list of tiers, highest first, strictly falling min, the last min 0."""
    items = read_items(problems, value, place)
    tiers = [_read_tier(problems, item, f"{place}[{i}]") for i, item in enumerate(items)]
    check_unique(problems, items, place, "name", "tier name")
    check_falling(
        problems, place, [(i, t.min) for i, t in enumerate(tiers) if t is not None], "tier"
    )
    if len(items) > MAX_TIERS:
        problems.add(place, f"must have at most {MAX_TIERS} tiers, got {len(items)}")
    if tiers and tiers[-1] is not None and tiers[-1].min != 0:
        last_min = number_text(tiers[-1].min)
        problems.add(
            f"{place}[{len(tiers) - 1}].min", f"the last tier must have min 0, got {last_min}"
        )
    return clean(tiers)


def _read_tier(problems: Problems, value: object, place: str) -> Tier | None:
    """{name: non-empty string, min: number in [0, 100], alert: boolean (default false)}."""
    fields = read_mapping(problems, value, place, TIER_KEYS)
    if fields is None:
        return None
    mark = problems.mark()
    name = read_text(problems, fields.get("name", ABSENT), f"{place}.name", non_empty=True)
    floor = read_number(problems, fields.get("min", ABSENT), f"{place}.min", at_least=0)
    if floor > TOTAL_MAX:
        problems.add(
            f"{place}.min", f"must be at most 100 (the total's maximum), got {number_text(floor)}"
        )
    alert = read_flag(problems, fields.get("alert", False), f"{place}.alert")
    return Tier(name, floor, alert) if problems.clean_since(mark) else None
