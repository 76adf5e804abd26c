"""Models compiled for the native core: what `scoring._core.Core` takes (docs/scoring.md section 3).

A `Model` is split into its criteria by kind, with the normalisers of the total and its two
sub-scores, the tier table, the plan of criteria in model order (what explanations and scores
name), and per event type the groups of signals an event of that type is tested against. The
results are frozen dataclasses the core reads by attribute (scoring/native/src/spec.rs).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from scoring.errors import ScoringError
from scoring.loader.rules import MAX_BEHAVIORAL_CRITERIA, MAX_SIGNALS
from scoring.model import (
    BandsCriterion,
    BehavioralCriterion,
    BreadthCriterion,
    Condition,
    Model,
    ProfileCriterion,
    PropertyValue,
    ValuesCriterion,
)

Expected = PropertyValue | tuple[PropertyValue, ...]


@dataclass(frozen=True, slots=True)
class BehaviorSpec:
    """A behavioral criterion; `contact_keep` > 0 when a breadth criterion counts its contacts
    (the K most recent within the widest window: exact for the clamped breadth score)."""

    fingerprint: int
    half_life: float
    points: tuple[float, ...]
    contact_keep: int
    contact_window: float
    weight_scale: float  # weight * the model's scale
    saturation: float
    signal_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BreadthSpec:
    behavior: int  # position of the counted behavioral criterion
    window: float
    weight_scale: float
    saturation: float


@dataclass(frozen=True, slots=True)
class ProfileSpec:
    """A firmographic or technographic criterion: its field path and rule, with the table's
    keys lower-cased."""

    path: tuple[str, ...]
    rule: Literal["bands", "values", "any"]
    bands: tuple[tuple[float, float], ...]  # (min, score), falling min
    table: Mapping[str, float]
    default: float
    missing: float
    weight: float


@dataclass(frozen=True, slots=True)
class CriterionSpec:
    """One criterion in model order: its place among the criteria of its kind, and its share of
    the total (norm * weight: contribution = share * score)."""

    id: str
    kind: str  # "firmographic", "technographic", "behavioral" or "breadth"
    index: int
    share: float
    weight: float


@dataclass(frozen=True, slots=True)
class ModelSpec:
    id: str
    version: int
    scale: float
    hysteresis: float
    norm: float  # 100 / (scale * sum of weights)
    fit_norm: float  # 0 without profile criteria
    engagement_norm: float  # 0 without behavioral or breadth criteria
    tier_names: tuple[str, ...]  # highest first
    tier_mins: tuple[float, ...]
    behaviors: tuple[BehaviorSpec, ...]
    breadths: tuple[BreadthSpec, ...]
    profile: tuple[ProfileSpec, ...]
    plan: tuple[CriterionSpec, ...]


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    """A `where` condition as the core tests it: expected strings lower-cased here, by Python,
    since actual values are compared lower-cased."""

    property: str
    op: str
    expected: Expected


@dataclass(frozen=True, slots=True)
class SignalSpec:
    index: int  # in its criterion
    daily_cap: int | None
    positive: bool  # breadth counts only hits of positive-points signals
    conditions: tuple[ConditionSpec, ...]


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """The signals of one behavioral criterion of one model that one event type can hit."""

    model: int  # index in load order
    behavior: int  # position among the model's behavioral criteria
    signals: tuple[SignalSpec, ...]


def behavior_fingerprint(criterion: BehavioralCriterion) -> int:
    """32-bit digest of what a behavioral criterion's stored sums depend on: its id, half-life and
    each signal's id, event type, `where` and daily cap (not points, weight or saturation, which
    are applied at read time). Equal fingerprints across model versions mean history is kept."""
    signals = tuple(
        (s.id, s.event, tuple((c.property, c.op, c.value) for c in s.where), s.daily_cap)
        for s in criterion.signals
    )
    text = repr((criterion.id, float(criterion.half_life), signals))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "little")


def _lowered(value: PropertyValue) -> PropertyValue:
    return value.lower() if isinstance(value, str) else value


def condition_spec(condition: Condition) -> ConditionSpec:
    """A `where` condition as the native core tests it (docs/scoring.md section 2): `contains` needs
    a string, `gte`/`lte` a number (not a bool)."""
    expected = condition.value
    if isinstance(expected, tuple):
        lowered: Expected = tuple(_lowered(e) for e in expected)
    else:
        lowered = _lowered(expected)
    return ConditionSpec(condition.property, condition.op, lowered)


def _profile_spec(criterion: ProfileCriterion) -> ProfileSpec:
    path, missing, weight = tuple(criterion.field), criterion.missing, criterion.weight
    if isinstance(criterion, BandsCriterion):
        bands = tuple((band.min, band.score) for band in criterion.bands)
        return ProfileSpec(path, "bands", bands, {}, 0.0, missing, weight)
    if isinstance(criterion, ValuesCriterion):
        values = dict(criterion.values)
        return ProfileSpec(path, "values", (), values, criterion.default, missing, weight)
    return ProfileSpec(path, "any", (), dict(criterion.any), 0.0, missing, weight)


@dataclass(slots=True)
class _Behavior:
    criterion: BehavioralCriterion
    position: int
    contact_keep: int = 0  # 0 = no breadth criterion counts this one's contacts
    contact_window: float = 0.0
    fingerprint: int = field(init=False)

    def __post_init__(self) -> None:
        self.fingerprint = behavior_fingerprint(self.criterion)


def compile_model(model: Model) -> ModelSpec:
    """The model as the core takes it. Raises ScoringError for more behavioral criteria, or
    signals in one, than the codec counts (the loader refuses such a model file first) or a
    breadth criterion of no behavioral."""
    profile: list[ProfileCriterion] = []
    behaviors: list[_Behavior] = []
    positions: dict[str, _Behavior] = {}
    for criterion in model.criteria:
        if isinstance(criterion, BehavioralCriterion):
            if len(criterion.signals) > MAX_SIGNALS:
                raise ScoringError(f"{model.id}: {criterion.id}: more than {MAX_SIGNALS} signals")
            behavior = _Behavior(criterion, len(behaviors))
            behaviors.append(behavior)
            positions[criterion.id] = behavior
        elif not isinstance(criterion, BreadthCriterion):
            profile.append(criterion)
    if len(behaviors) > MAX_BEHAVIORAL_CRITERIA:
        raise ScoringError(f"{model.id}: more than {MAX_BEHAVIORAL_CRITERIA} behavioral criteria")
    scale = model.scale
    breadths: list[BreadthSpec] = []
    for criterion in model.criteria:
        if isinstance(criterion, BreadthCriterion):
            counted = positions.get(criterion.of)
            if counted is None:
                raise ScoringError(f"{model.id}: {criterion.id}: no behavioral {criterion.of}")
            # Keeping the K most recent contacts within the widest window is exact for the
            # clamped score: once K are in the window, n >= saturation whatever the rest do.
            counted.contact_keep = max(counted.contact_keep, math.ceil(criterion.saturation))
            counted.contact_window = max(counted.contact_window, criterion.window)
            breadths.append(
                BreadthSpec(
                    counted.position,
                    criterion.window,
                    criterion.weight * scale,
                    criterion.saturation,
                )
            )
    fit_weight = sum(c.weight for c in profile)
    engagement_weight = sum(c.weight for c in model.criteria) - fit_weight
    norm = 100.0 / (scale * (fit_weight + engagement_weight))
    fit_norm = 100.0 / (scale * fit_weight) if profile else 0.0
    has_engagement = bool(behaviors or breadths)
    engagement_norm = 100.0 / (scale * engagement_weight) if has_engagement else 0.0
    plan = []
    counters = {"profile": 0, "behavioral": 0, "breadth": 0}
    for criterion in model.criteria:
        if isinstance(criterion, BehavioralCriterion):
            family = "behavioral"
        elif isinstance(criterion, BreadthCriterion):
            family = "breadth"
        else:
            family = "profile"
        share = norm * criterion.weight
        plan.append(
            CriterionSpec(criterion.id, criterion.kind, counters[family], share, criterion.weight)
        )
        counters[family] += 1
    return ModelSpec(
        id=model.id,
        version=model.version,
        scale=scale,
        hysteresis=model.hysteresis,
        norm=norm,
        fit_norm=fit_norm,
        engagement_norm=engagement_norm,
        tier_names=tuple(t.name for t in model.tiers),
        tier_mins=tuple(t.min for t in model.tiers),
        behaviors=tuple(
            BehaviorSpec(
                b.fingerprint,
                b.criterion.half_life,
                tuple(s.points for s in b.criterion.signals),
                b.contact_keep,
                b.contact_window,
                b.criterion.weight * scale,
                b.criterion.saturation,
                tuple(s.id for s in b.criterion.signals),
            )
            for b in behaviors
        ),
        breadths=tuple(breadths),
        profile=tuple(_profile_spec(c) for c in profile),
        plan=tuple(plan),
    )


def signal_groups(models: Sequence[Model]) -> dict[str, list[GroupSpec]]:
    """Per event type, the groups in model then criterion order, signals in model order: one
    group per behavioral criterion, holding its signals of that type."""
    groups: dict[str, list[GroupSpec]] = {}
    for index, model in enumerate(models):
        behaviors = [c for c in model.criteria if isinstance(c, BehavioralCriterion)]
        for position, criterion in enumerate(behaviors):
            signals = criterion.signals
            for event_type in dict.fromkeys(s.event for s in signals):
                group = tuple(
                    SignalSpec(
                        k,
                        s.daily_cap,
                        s.points > 0.0,
                        tuple(condition_spec(c) for c in s.where),
                    )
                    for k, s in enumerate(signals)
                    if s.event == event_type
                )
                groups.setdefault(event_type, []).append(GroupSpec(index, position, group))
    return groups
