"""Builders of `Model`, `Event` and `Profile` objects straight from the dataclasses.

Tests of the engine do not go through the YAML loader: they build exactly the model they need,
with the loader's conventions (string condition values and `values`/`any` keys lower-cased,
dotted fields split).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from scoring.messages import Event, Profile
from scoring.model import (
    AnyCriterion,
    Band,
    BandsCriterion,
    BehavioralCriterion,
    BreadthCriterion,
    Condition,
    ConditionOp,
    Criterion,
    Model,
    ProfileKind,
    PropertyValue,
    Signal,
    Tier,
)
from scoring.model import ValuesCriterion as _Values

HOUR = 3_600.0
DAY = 86_400.0
T0 = 1_795_392_000.0  # 2026-11-23T00:00:00Z, a UTC midnight
ACCOUNT = "acme"

Where = Mapping[str, Mapping[ConditionOp, PropertyValue | Sequence[PropertyValue]]]


def _lower(value: PropertyValue) -> PropertyValue:
    return value.lower() if isinstance(value, str) else value


def conditions(where: Where) -> tuple[Condition, ...]:
    """`{"url": {"contains": "/Pricing"}}` -> the loader's `Condition`s (strings lower-cased)."""
    out = []
    for prop, spec in where.items():
        for op, value in spec.items():
            if isinstance(value, str | int | float | bool):
                out.append(Condition(prop, op, _lower(value)))
            else:
                out.append(Condition(prop, op, tuple(_lower(v) for v in value)))
    return tuple(out)


def signal(
    id: str,
    event: str,
    points: float,
    *,
    where: Where | None = None,
    daily_cap: int | None = None,
) -> Signal:
    return Signal(id, event, points, conditions(where or {}), daily_cap)


def behavioral(
    id: str,
    signals: Sequence[Signal],
    *,
    weight: float = 1.0,
    half_life: float = DAY,
    saturation: float = 10.0,
) -> BehavioralCriterion:
    return BehavioralCriterion(id, float(weight), half_life, saturation, tuple(signals))


def breadth(
    id: str, of: str, *, weight: float = 1.0, window: float = 30 * DAY, saturation: float = 5.0
) -> BreadthCriterion:
    return BreadthCriterion(id, float(weight), window, saturation, of)


def bands(
    id: str,
    field: str,
    bands: Sequence[tuple[float, float]],
    *,
    weight: float = 1.0,
    missing: float = 0.0,
    kind: ProfileKind = "firmographic",
) -> BandsCriterion:
    return BandsCriterion(
        id,
        kind,
        float(weight),  # the loader reads every number as a float
        tuple(field.split(".")),
        tuple(Band(float(m), float(s)) for m, s in bands),
        missing,
    )


def values(
    id: str,
    field: str,
    table: Mapping[str, float],
    *,
    weight: float = 1.0,
    default: float = 0.0,
    missing: float = 0.0,
) -> _Values:
    lowered = MappingProxyType({k.lower(): float(v) for k, v in table.items()})
    return _Values(
        id, "firmographic", float(weight), tuple(field.split(".")), lowered, default, missing
    )


def any_of(
    id: str, field: str, table: Mapping[str, float], *, weight: float = 1.0, missing: float = 0.0
) -> AnyCriterion:
    lowered = MappingProxyType({k.lower(): float(v) for k, v in table.items()})
    return AnyCriterion(
        id, "technographic", float(weight), tuple(field.split(".")), lowered, missing
    )


HOT_WARM_COLD = (("hot", 70.0), ("warm", 40.0), ("cold", 0.0))


def model(
    criteria: Sequence[Criterion],
    *,
    id: str = "nb",
    version: int = 1,
    scale: float = 10.0,
    hysteresis: float = 0.0,
    tiers: Sequence[tuple[str, float]] = HOT_WARM_COLD,
) -> Model:
    return Model(
        id=id,
        version=version,
        description="test model",
        scale=scale,
        hysteresis=hysteresis,
        tiers=tuple(Tier(name, floor) for name, floor in tiers),
        criteria=tuple(criteria),
        source=f"{id}.yaml",
    )


def event(
    event_id: str,
    type: str,
    at: float,
    *,
    account_id: str = ACCOUNT,
    contact: str | None = None,
    properties: Mapping[str, PropertyValue] | None = None,
    **more: PropertyValue,
) -> Event:
    """An event; properties as a mapping and/or keywords."""
    return Event(
        event_id=event_id,
        type=type,
        occurred_at=at,
        account_id=account_id,
        contact_id=contact,
        properties=MappingProxyType({**(properties or {}), **more}),
    )


def profile(
    at: float,
    *,
    account_id: str = ACCOUNT,
    fields: Mapping[str, object] | None = None,
    **more: object,
) -> Profile:
    """A profile; fields as a mapping and/or keywords."""
    return Profile(
        account_id=account_id, updated_at=at, fields=MappingProxyType({**(fields or {}), **more})
    )


def scoring_md_model(*, version: int = 3) -> Model:
    """The example model of docs/scoring.md section 2."""
    return model(
        [
            bands(
                "company_size",
                "employees",
                [(1000, 10), (200, 7), (50, 4), (1, 1)],
                weight=3,
            ),
            values(
                "industry",
                "industry",
                {"software": 10, "financial-services": 8, "manufacturing": 5},
                weight=2,
                default=2,
            ),
            any_of(
                "stack", "technologies", {"salesforce": 4, "snowflake": 4, "segment": 3}, weight=2
            ),
            behavioral(
                "engagement",
                [
                    signal("pricing_view", "page_view", 6, where={"url": {"contains": "/pricing"}}),
                    signal("page_view", "page_view", 1, daily_cap=20),
                    signal("download", "content_download", 8),
                    signal("email_open", "email_open", 0.5, daily_cap=5),
                    signal("demo_request", "form_submit", 30, where={"form": {"equals": "demo"}}),
                    signal("unsubscribe", "unsubscribe", -15),
                ],
                weight=5,
                half_life=14 * DAY,
                saturation=60,
            ),
            breadth("buying_group", "engagement", weight=2, window=30 * DAY, saturation=5),
        ],
        id="new-business",
        version=version,
        hysteresis=5,
        tiers=[("hot", 70), ("warm", 40), ("cold", 0)],
    )
