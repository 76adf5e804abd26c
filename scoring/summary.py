"""`describe_model`: the one-screen text `scorer model check` prints for each loaded model.

Pure: a `Model` in, plain text out (no colour, no terminal width), so it is golden-tested.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scoring.model import (
    AnyCriterion,
    BandsCriterion,
    BehavioralCriterion,
    Condition,
    Criterion,
    Model,
    PropertyValue,
    Signal,
    ValuesCriterion,
)

INDENT = "    "
OPERATOR_SIGNS: Mapping[str, str] = {
    "equals": "=",
    "contains": "contains",
    "in": "in",
    "gte": ">=",
    "lte": "<=",
}


def describe_model(model: Model) -> str:
    """A readable summary of `model`, lines joined by '\\n', no trailing newline.

    Shows the id, version, description, scale, hysteresis and tiers; then one row per criterion
    with its kind, weight, share of the total weight and the most points it can add to the
    0..100 total, and under it what it scores (field and bands / values / any, or half-life,
    saturation and a table of signals, or the breadth window).
    """
    lines = [
        f"{model.id} v{model.version}" + (f": {model.description}" if model.description else ""),
        f"source {model.source or '-'}; scale {_num(model.scale)}; "
        f"hysteresis {_num(model.hysteresis)}",
        "tiers: " + ", ".join(_tier(t.name, t.min, t.alert) for t in model.tiers),
        "",
    ]
    total_weight = sum(c.weight for c in model.criteria)
    rows = [("criterion", "kind", "weight", "share", "max pts")]
    details: list[list[str]] = [[]]
    for criterion in model.criteria:
        share = 100 * criterion.weight / total_weight
        best = share * _best_score(criterion, model.scale) / model.scale
        rows.append(
            (
                criterion.id,
                criterion.kind,
                _num(criterion.weight),
                f"{share:.1f}%",
                f"{best:.1f}",
            )
        )
        details.append([_headline(criterion, model.scale), *_signal_table(criterion)])
    for row, extra in zip(_table(rows, right=(2, 3, 4)), details, strict=True):
        lines.append(row)
        lines.extend(INDENT + line for line in extra)
    return "\n".join(lines)


def _tier(name: str, floor: float, alert: bool) -> str:
    """`hot >= 70 (alert)`."""
    return f"{name} >= {_num(floor)}" + (" (alert)" if alert else "")


def _best_score(criterion: Criterion, scale: float) -> float:
    """The highest score (0..scale) the criterion can reach."""
    if isinstance(criterion, BandsCriterion):
        return max([b.score for b in criterion.bands] + [criterion.missing])
    if isinstance(criterion, ValuesCriterion):
        return max([*criterion.values.values(), criterion.default, criterion.missing])
    if isinstance(criterion, AnyCriterion):
        return max(min(scale, sum(criterion.any.values())), criterion.missing)
    if isinstance(criterion, BehavioralCriterion):
        return scale if any(s.points > 0 for s in criterion.signals) else 0.0
    return scale


def _headline(criterion: Criterion, scale: float) -> str:
    """What the criterion reads and how it scores it, in one line."""
    if isinstance(criterion, BandsCriterion):
        bands = ", ".join(f">= {_num(b.min)} -> {_num(b.score)}" for b in criterion.bands)
        return f"{'.'.join(criterion.field)}: {bands}; missing {_num(criterion.missing)}"
    if isinstance(criterion, ValuesCriterion):
        listed = _scores(criterion.values)
        return (
            f"{'.'.join(criterion.field)}: {listed}; else {_num(criterion.default)}; "
            f"missing {_num(criterion.missing)}"
        )
    if isinstance(criterion, AnyCriterion):
        listed = _scores(criterion.any)
        return (
            f"{'.'.join(criterion.field)}: any of {listed} (max {_num(scale)}); "
            f"missing {_num(criterion.missing)}"
        )
    if isinstance(criterion, BehavioralCriterion):
        return (
            f"half-life {_duration(criterion.half_life)}; "
            f"full score at {_num(criterion.saturation)} decayed points"
        )
    return (
        f"contacts with a positive hit in {criterion.of} in the last "
        f"{_duration(criterion.window)}; full score at {_num(criterion.saturation)}"
    )


def _signal_table(criterion: Criterion) -> list[str]:
    """The signals of a behavioral criterion as an aligned table; [] for other kinds."""
    if not isinstance(criterion, BehavioralCriterion):
        return []
    rows = [("signal", "event", "points", "daily cap", "where")]
    rows.extend(_signal_row(signal) for signal in criterion.signals)
    return _table(rows, right=(2, 3))


def _signal_row(signal: Signal) -> tuple[str, str, str, str, str]:
    """id, event, points, daily cap (- when none), where (- when any event of the type)."""
    cap = "-" if signal.daily_cap is None else str(signal.daily_cap)
    where = " and ".join(_condition(c) for c in signal.where) or "-"
    return (signal.id, signal.event, _num(signal.points), cap, where)


def _condition(condition: Condition) -> str:
    """`url contains "/pricing"`, `form in ("demo", "trial")`, `amount >= 100`."""
    if isinstance(condition.value, tuple):
        shown = "(" + ", ".join(_value(v) for v in condition.value) + ")"
    else:
        shown = _value(condition.value)
    return f"{condition.property} {OPERATOR_SIGNS[condition.op]} {shown}"


def _value(value: PropertyValue) -> str:
    """A condition operand: strings quoted, booleans as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return _num(value)


def _scores(scores: Mapping[str, float]) -> str:
    """`software 10, manufacturing 5`, in file order."""
    return ", ".join(f"{key} {_num(score)}" for key, score in scores.items())


def _table(rows: Sequence[Sequence[str]], right: Sequence[int]) -> list[str]:
    """Rows with aligned columns (two spaces apart); columns in `right` are right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _duration(seconds: float) -> str:
    """Seconds in the largest whole unit: 1209600 -> `14d`, 5400 -> `90m`."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds % size == 0:
            return f"{_num(seconds / size)}{unit}"
    return f"{_num(seconds)}s"


def _num(number: float) -> str:
    """`1,000`, `20M`, `0.5`, `-15`: whole numbers without decimals; millions and billions short."""
    if not float(number).is_integer():
        return f"{number:g}"
    whole = int(number)
    for suffix, size in (("B", 1_000_000_000), ("M", 1_000_000)):
        if whole and whole % size == 0:
            return f"{whole // size:,}{suffix}"
    return f"{whole:,}"
