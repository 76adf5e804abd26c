"""Explanations of a score (SCORING.md section 4): per-criterion numbers and a one-line summary.

The engine computes the numbers; this module holds the result types and turns evidence into the
words a rep reads, e.g. `hot 78.4: demo_request 2d ago, 3× pricing_view (last 4h ago),
1,200 employees, industry software, uses Snowflake, Salesforce, 4 engaged contacts`.
Everything here is pure and deterministic: ages are computed from the evaluation time passed in.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scoring.model import AnyCriterion, BandsCriterion, ProfileCriterion, ValuesCriterion
from scoring.timefmt import format_rfc3339

MAX_SUMMARY_PARTS = 5
"""At most this many pieces of evidence in a summary line, strongest first."""

TOP_SIGNALS = 3
"""Signals listed per behavioral criterion (SCORING.md section 4)."""

# The result types below are values: nothing changes one once built. They are not frozen because
# a frozen dataclass builds about five times slower (each field goes through
# `object.__setattr__`), and the replay's output builds ~10 of them per account and model.


@dataclass(slots=True)
class SignalExplanation:
    """One signal of a behavioral criterion at the evaluation time."""

    id: str
    points: float  # decayed points: points * sum of 2^(-(t - t_j) / half_life) over earning hits
    count: int  # earning hits since the signal was last quiet for more than one half-life
    last_hit: float  # time of the latest earning hit (epoch seconds)


@dataclass(slots=True)
class CriterionExplanation:
    """One criterion: its score (0..scale), weight and contribution to the 0..100 total.

    `evidence` holds the summary parts this criterion offers, strongest first (may be empty).
    """

    id: str
    kind: str
    score: float
    weight: float
    contribution: float  # 100 * weight * score / (scale * sum of weights); they add up to the total
    signals: tuple[SignalExplanation, ...] = ()
    evidence: tuple[str, ...] = ()


@dataclass(slots=True)
class Explanation:
    """Why an account x model has its total and tier at time `at`."""

    model: str
    model_version: int
    at: float
    tier: str
    total: float
    fit: float | None
    engagement: float | None
    criteria: tuple[CriterionExplanation, ...]  # in model order
    summary: str

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready dict (times as RFC 3339 strings, None when the account has no input yet)."""
        return {
            "model": self.model,
            "model_version": self.model_version,
            "at": _time(self.at),
            "tier": self.tier,
            "total": self.total,
            "fit": self.fit,
            "engagement": self.engagement,
            "summary": self.summary,
            "criteria": [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "score": c.score,
                    "weight": c.weight,
                    "contribution": c.contribution,
                    "top_signals": [
                        {
                            "id": s.id,
                            "points": s.points,
                            "count": s.count,
                            "last_hit_at": _time(s.last_hit),
                        }
                        for s in c.signals
                    ],
                }
                for c in self.criteria
            ],
        }


def _time(epoch: float) -> str | None:
    return format_rfc3339(epoch) if math.isfinite(epoch) else None


def format_age(seconds: float) -> str:
    """`45s`, `12m`, `4h`, `2d`: the largest whole unit (rounded down; negative counts as 0)."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86_400.0), ("h", 3_600.0), ("m", 60.0)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def format_number(value: float) -> str:
    """`1,200`; `1,234.5`: thousands separators, no decimals for whole numbers."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,}"


def signal_evidence(signal: SignalExplanation, at: float) -> str:
    """`demo_request 2d ago` for one hit, `3× pricing_view (last 4h ago)` for more."""
    age = format_age(at - signal.last_hit)
    if signal.count <= 1:
        return f"{signal.id} {age} ago"
    return f"{signal.count}× {signal.id} (last {age} ago)"


def behavioral_evidence(signals: Sequence[SignalExplanation], at: float) -> tuple[str, ...]:
    """Summary parts of a behavioral criterion: its top signals that add points, strongest first."""
    return tuple(signal_evidence(s, at) for s in signals if s.points > 0.0 and s.count > 0)


def profile_evidence(criterion: ProfileCriterion, value: object) -> tuple[str, ...]:
    """Summary part of a profile criterion from the raw field `value` (None when absent).

    Bands: `1,200 employees`; values: `industry software` (as written in the profile), or
    `customer` / `not customer` for a boolean field the model lists true/false for;
    any: `uses Snowflake, Salesforce` (listed items present, first spelling, profile order).
    A value the criterion cannot use reads `<field> unknown`.
    """
    name = criterion.field[-1]
    if isinstance(criterion, BandsCriterion):
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (f"{format_number(value)} {name}",)
    elif isinstance(criterion, ValuesCriterion):
        if isinstance(value, str):
            return (f"{name} {value}",)
        if isinstance(value, bool) and ("true" if value else "false") in criterion.values:
            # A flag the model scores (e.g. `customer: true`) reads as the flag itself.
            return (name if value else f"not {name}",)
    elif isinstance(criterion, AnyCriterion) and isinstance(value, list):
        return (f"uses {', '.join(listed_items(criterion, value))}",)
    return (f"{name} unknown",)


def listed_items(criterion: AnyCriterion, items: list[object]) -> list[str]:
    """Items of a list field that the criterion lists, once each (case-insensitive), as written."""
    seen: set[str] = set()
    found = []
    for item in items:
        if isinstance(item, str):
            key = item.lower()
            if key in criterion.any and key not in seen:
                seen.add(key)
                found.append(item)
    return found


def breadth_evidence(contacts: int) -> tuple[str, ...]:
    """`4 engaged contacts` (`1 engaged contact`)."""
    return (f"{contacts} engaged contact{'' if contacts == 1 else 's'}",)


def summarize(tier: str, total: float, criteria: Sequence[CriterionExplanation]) -> str:
    """`<tier> <total, one decimal>: <parts>`, parts from the criteria by falling contribution.

    Criteria that contribute nothing are left out; at most `MAX_SUMMARY_PARTS` parts. Ties keep
    model order (the sort is stable), so the line is deterministic.
    """
    ranked = sorted(
        (c for c in criteria if c.contribution > 0.0), key=lambda c: c.contribution, reverse=True
    )
    parts = [part for c in ranked for part in c.evidence][:MAX_SUMMARY_PARTS]
    head = f"{tier} {total:.1f}"
    return f"{head}: {', '.join(parts)}" if parts else head
