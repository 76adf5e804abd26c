"""Frozen, typed scoring models (docs/scoring.md section 2).

These objects are built only by `scoring.loader`, which validates every rule; code that holds a
`Model` can trust it. Durations are seconds; times are Unix epoch seconds (UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

PropertyValue = str | int | float | bool
ConditionOp = Literal["equals", "contains", "in", "gte", "lte"]
ProfileKind = Literal["firmographic", "technographic"]


@dataclass(frozen=True, slots=True)
class Condition:
    """One key of a signal's `where`: `property` `op` `value`.

    Strings are stored lower-cased (comparisons are case-insensitive); `in` holds a tuple.
    """

    property: str
    op: ConditionOp
    value: PropertyValue | tuple[PropertyValue, ...]


@dataclass(frozen=True, slots=True)
class Signal:
    id: str
    event: str  # event type it matches
    points: float  # may be negative (e.g. unsubscribe)
    where: tuple[Condition, ...] = ()
    daily_cap: int | None = None  # earning hits per account, signal and UTC day


@dataclass(frozen=True, slots=True)
class Tier:
    name: str
    min: float
    alert: bool = False


@dataclass(frozen=True, slots=True)
class Band:
    min: float
    score: float


@dataclass(frozen=True, slots=True)
class BandsCriterion:
    """Numeric profile field: the first band (strictly falling `min`) with value >= min."""

    id: str
    kind: ProfileKind
    weight: float
    field: tuple[str, ...]  # dotted path, split
    bands: tuple[Band, ...]
    missing: float = 0.0


@dataclass(frozen=True, slots=True)
class ValuesCriterion:
    """String profile field looked up case-insensitively (keys stored lower-cased)."""

    id: str
    kind: ProfileKind
    weight: float
    field: tuple[str, ...]
    values: Mapping[str, float]
    default: float = 0.0  # present but not listed
    missing: float = 0.0  # absent, null or of the wrong type


@dataclass(frozen=True, slots=True)
class AnyCriterion:
    """List-of-strings profile field: sum over listed items present (once each), capped at scale."""

    id: str
    kind: ProfileKind
    weight: float
    field: tuple[str, ...]
    any: Mapping[str, float]  # keys lower-cased
    missing: float = 0.0


@dataclass(frozen=True, slots=True)
class BehavioralCriterion:
    id: str
    weight: float
    half_life: float  # seconds
    saturation: float  # decayed points that reach the full scale
    signals: tuple[Signal, ...]
    kind: Literal["behavioral"] = "behavioral"


@dataclass(frozen=True, slots=True)
class BreadthCriterion:
    id: str
    weight: float
    window: float  # seconds
    saturation: float  # distinct engaged contacts that reach the full scale
    of: str  # id of a behavioral criterion of the same model
    kind: Literal["breadth"] = "breadth"


ProfileCriterion = BandsCriterion | ValuesCriterion | AnyCriterion
Criterion = ProfileCriterion | BehavioralCriterion | BreadthCriterion


@dataclass(frozen=True, slots=True)
class Model:
    id: str
    version: int
    description: str
    scale: float
    hysteresis: float
    tiers: tuple[Tier, ...]  # highest first; the last has min 0
    criteria: tuple[Criterion, ...]
    source: str = ""  # the file it was loaded from, for messages
