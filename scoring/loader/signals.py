"""A behavioral criterion's `signals` and their `where` conditions."""

from __future__ import annotations

from scoring.loader.checks import check_unique
from scoring.loader.problems import ABSENT, Problems, did_you_mean, finite, shown
from scoring.loader.rules import (
    EVENT_RULE,
    EVENT_TYPE,
    NAME_ID,
    NAME_ID_RULE,
    OPERATOR_RULE,
    OPERATORS,
    SIGNAL_KEYS,
)
from scoring.loader.values import (
    clean,
    read_ident,
    read_integer,
    read_items,
    read_mapping,
    read_number,
    read_text,
)
from scoring.model import Condition, ConditionOp, PropertyValue, Signal


def read_signals(problems: Problems, value: object, place: str) -> tuple[Signal, ...]:
    """Non-empty list of signals with ids unique within the criterion."""
    items = read_items(problems, value, place)
    signals = [_read_signal(problems, item, f"{place}[{i}]") for i, item in enumerate(items)]
    check_unique(problems, items, place, "id", "signal id")
    return clean(signals)


def _read_signal(problems: Problems, value: object, place: str) -> Signal | None:
    """{id, event, points (number, not 0), daily_cap (integer >= 1), where}; the last 2 optional."""
    fields = read_mapping(problems, value, place, SIGNAL_KEYS)
    if fields is None:
        return None
    mark = problems.mark()
    signal_id = read_ident(problems, fields.get("id", ABSENT), f"{place}.id", NAME_ID, NAME_ID_RULE)
    event = read_ident(
        problems, fields.get("event", ABSENT), f"{place}.event", EVENT_TYPE, EVENT_RULE
    )
    before_points = problems.mark()
    points = read_number(problems, fields.get("points", ABSENT), f"{place}.points")
    if points == 0 and problems.clean_since(before_points):
        problems.add(
            f"{place}.points", "must not be 0 (a signal worth nothing does nothing: remove it)"
        )
    daily_cap = None
    if "daily_cap" in fields:
        daily_cap = read_integer(problems, fields["daily_cap"], f"{place}.daily_cap", at_least=1)
    where: tuple[Condition, ...] = ()
    if "where" in fields:
        where = _read_where(problems, fields["where"], f"{place}.where")
    return (
        Signal(signal_id, event, points, where, daily_cap) if problems.clean_since(mark) else None
    )


def _read_where(problems: Problems, value: object, place: str) -> tuple[Condition, ...]:
    """Non-empty mapping property -> {operator: operand}; all conditions must match."""
    if not isinstance(value, dict) or not value:
        got = (
            "it is empty: leave where out to match every event"
            if isinstance(value, dict)
            else f"got {shown(value)}"
        )
        problems.add(place, f"must be a non-empty mapping of property: {{operator: value}} ({got})")
        return ()
    conditions = [
        _read_condition(problems, prop, test, f"{place}.{prop}") for prop, test in value.items()
    ]
    return clean(conditions)


def _read_condition(problems: Problems, prop: object, test: object, place: str) -> Condition | None:
    """`prop: {op: operand}` with exactly one operator."""
    if not isinstance(prop, str) or not prop:
        problems.add(place, f"property names must be non-empty strings, got {shown(prop)}")
        return None
    if not isinstance(test, dict) or len(test) != 1:
        got = f"{len(test)} operators" if isinstance(test, dict) else shown(test)
        problems.add(place, f"{OPERATOR_RULE}, such as {{contains: /pricing}}, got {got}")
        return None
    [(op, operand)] = test.items()
    if op not in OPERATORS:
        problems.add(
            f"{place}.{op}",
            f"unknown operator{did_you_mean(op, tuple(OPERATORS.values()))}; {OPERATOR_RULE}",
        )
        return None
    mark = problems.mark()
    stored = _read_operand(problems, OPERATORS[op], operand, f"{place}.{op}")
    return Condition(prop, OPERATORS[op], stored) if problems.clean_since(mark) else None


def _read_operand(
    problems: Problems, op: ConditionOp, value: object, place: str
) -> PropertyValue | tuple[PropertyValue, ...]:
    """equals: string, number or boolean; contains: non-empty string; in: non-empty list of
    those; gte / lte: number. Strings lower-cased."""
    if op == "contains":
        return read_text(problems, value, place, non_empty=True).lower()
    if op in ("gte", "lte"):
        return read_number(problems, value, place)
    if op == "equals":
        return _read_property_value(problems, value, place)
    if not isinstance(value, list) or not value:
        problems.add(
            place, f"must be a non-empty list of strings, numbers or booleans, got {shown(value)}"
        )
        return ()
    return tuple(
        _read_property_value(problems, item, f"{place}[{i}]") for i, item in enumerate(value)
    )


def _read_property_value(problems: Problems, value: object, place: str) -> PropertyValue:
    """A string (lower-cased), a finite number or a boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, int | float) and finite(value):
        return value
    problems.add(place, f"must be a string, a finite number or a boolean, got {shown(value)}")
    return ""
