"""Explanations of a score (docs/scoring.md section 4): per-criterion numbers and a one-line
summary.

This module holds the types an explanation is read as. The native core builds the content
(`scoring/native/src/explain.rs`): the numbers, the top signals and the words a rep reads, e.g.
`hot 78.4: demo_request 2d ago, 3× pricing_view (last 4h ago), 1,200 employees, industry
software, uses Snowflake, Salesforce, 4 engaged contacts`. Everything is pure and
deterministic: ages are computed from the evaluation time passed in.
"""

from __future__ import annotations

from dataclasses import dataclass

from scoring import _core

# The result types below are values: nothing changes one once built. They are not frozen because
# a frozen dataclass builds about five times slower (each field goes through
# `object.__setattr__`), and an explanation builds ~10 of them.


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
    """RFC 3339, or None for a time that has none (-inf: no input yet)."""
    return _core.format_rfc3339(epoch)
