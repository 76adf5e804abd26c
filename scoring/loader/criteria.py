"""A model's `criteria`: the rules of each kind (profile, behavioral, breadth) and the
breadth targets, which name behavioral criteria of the same model."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from types import MappingProxyType

from scoring.loader.checks import check_falling, check_unique
from scoring.loader.problems import ABSENT, Problems, did_you_mean, number_text, shown
from scoring.loader.rules import (
    ANY_KIND_KEYS,
    BAND_KEYS,
    BEHAVIORAL_KEYS,
    BREADTH_KEYS,
    KINDS,
    MAX_BEHAVIORAL_CRITERIA,
    MAX_BREADTH_SATURATION,
    MAX_SIGNALS,
    NAME_ID,
    NAME_ID_RULE,
    PROFILE_KEYS,
    PROFILE_KINDS,
    PROFILE_RULES,
)
from scoring.loader.signals import read_signals
from scoring.loader.values import (
    clean,
    known_fields,
    read_duration,
    read_field_path,
    read_ident,
    read_items,
    read_mapping,
    read_number,
    read_score,
)
from scoring.model import (
    AnyCriterion,
    Band,
    BandsCriterion,
    BehavioralCriterion,
    BreadthCriterion,
    Criterion,
    ProfileCriterion,
    ProfileKind,
    ValuesCriterion,
)


def read_criteria(
    problems: Problems, value: object, place: str, scale: float | None
) -> tuple[Criterion, ...]:
    """Non-empty list of criteria with unique ids; each breadth criterion names a behavioral one."""
    items = read_items(problems, value, place)
    criteria = [
        _read_criterion(problems, item, f"{place}[{i}]", scale) for i, item in enumerate(items)
    ]
    check_unique(problems, items, place, "id", "criterion id")
    _check_breadth_targets(problems, items, criteria, place)
    behavioral = sum(isinstance(c, BehavioralCriterion) for c in criteria)
    if behavioral > MAX_BEHAVIORAL_CRITERIA:
        problems.add(
            place,
            f"must have at most {MAX_BEHAVIORAL_CRITERIA} behavioral criteria, got {behavioral}",
        )
    return clean(criteria)


def _read_criterion(
    problems: Problems, value: object, place: str, scale: float | None
) -> Criterion | None:
    """One criterion, read by the rules of its `kind`."""
    if not isinstance(value, dict):
        problems.add(place, f"must be a mapping with id, kind and weight, got {shown(value)}")
        return None
    kind = value.get("kind", ABSENT)
    if kind in PROFILE_KINDS:
        return _read_profile_criterion(problems, value, place, scale, PROFILE_KINDS[kind])
    if kind == "behavioral":
        return _read_behavioral(problems, value, place)
    if kind == "breadth":
        return _read_breadth(problems, value, place)
    if kind is ABSENT:
        problems.add(f"{place}.kind", f"required key is missing (one of {', '.join(KINDS)})")
    else:
        problems.add(
            f"{place}.kind",
            f"must be one of {', '.join(KINDS)}, got {shown(kind)}{did_you_mean(kind, KINDS)}",
        )
    _read_common(problems, known_fields(problems, value, place, ANY_KIND_KEYS), place)
    return None


def _read_common(problems: Problems, fields: Mapping[str, object], place: str) -> tuple[str, float]:
    """The `id` and `weight` every criterion has."""
    criterion_id = read_ident(
        problems, fields.get("id", ABSENT), f"{place}.id", NAME_ID, NAME_ID_RULE
    )
    weight = read_number(problems, fields.get("weight", ABSENT), f"{place}.weight", above=0)
    return criterion_id, weight


def _read_profile_criterion(
    problems: Problems,
    value: dict[object, object],
    place: str,
    scale: float | None,
    kind: ProfileKind,
) -> ProfileCriterion | None:
    """Firmographic / technographic: a `field` and exactly one of `bands`, `values`, `any`."""
    mark = problems.mark()
    fields = known_fields(problems, value, place, PROFILE_KEYS)
    criterion_id, weight = _read_common(problems, fields, place)
    path = read_field_path(problems, fields.get("field", ABSENT), f"{place}.field")
    missing = read_score(problems, fields.get("missing", 0), f"{place}.missing", scale)
    rules = [rule for rule in PROFILE_RULES if rule in fields]
    if "default" in fields and "values" not in rules:
        problems.add(
            f"{place}.default", "is only allowed with values (the score of a value not listed)"
        )
    if len(rules) != 1:
        got = f", got {' and '.join(rules)}" if rules else ""
        problems.add(place, f"needs exactly one of bands, values or any{got}")
        return None
    rule = rules[0]
    criterion: ProfileCriterion
    if rule == "bands":
        bands = _read_bands(problems, fields[rule], f"{place}.bands", scale)
        criterion = BandsCriterion(criterion_id, kind, weight, path, bands, missing)
    elif rule == "any":
        scores = _read_scored_keys(problems, fields[rule], f"{place}.any", scale)
        criterion = AnyCriterion(criterion_id, kind, weight, path, scores, missing)
    else:
        scores = _read_scored_keys(problems, fields[rule], f"{place}.values", scale)
        default = read_score(problems, fields.get("default", 0), f"{place}.default", scale)
        criterion = ValuesCriterion(criterion_id, kind, weight, path, scores, default, missing)
    return criterion if problems.clean_since(mark) else None


def _read_bands(
    problems: Problems, value: object, place: str, scale: float | None
) -> tuple[Band, ...]:
    """Non-empty list of {min: number, score: score}, min strictly falling."""
    items = read_items(problems, value, place)
    bands = [_read_band(problems, item, f"{place}[{i}]", scale) for i, item in enumerate(items)]
    check_falling(
        problems, place, [(i, b.min) for i, b in enumerate(bands) if b is not None], "band"
    )
    return clean(bands)


def _read_band(problems: Problems, value: object, place: str, scale: float | None) -> Band | None:
    """{min: any finite number, score: score}."""
    fields = read_mapping(problems, value, place, BAND_KEYS)
    if fields is None:
        return None
    mark = problems.mark()
    floor = read_number(problems, fields.get("min", ABSENT), f"{place}.min")
    score = read_score(problems, fields.get("score", ABSENT), f"{place}.score", scale)
    return Band(floor, score) if problems.clean_since(mark) else None


def _read_scored_keys(
    problems: Problems, value: object, place: str, scale: float | None
) -> Mapping[str, float]:
    """Non-empty mapping value -> score (`values`, `any`); keys lower-cased, unique ignoring case.

    A key may be a string or a YAML boolean (true/false, stored "true"/"false").
    """
    if not isinstance(value, dict) or not value:
        got = "it is empty" if isinstance(value, dict) else f"got {shown(value)}"
        problems.add(place, f"must be a non-empty mapping of value: score ({got})")
        return MappingProxyType({})
    scores: dict[str, float] = {}
    for key, raw_score in value.items():
        key_place = f"{place}.{key}"
        name = _scored_key(problems, key, key_place)
        if name in scores:
            problems.add(key_place, f"is listed twice (keys are compared ignoring case: '{name}')")
        score = read_score(problems, raw_score, key_place, scale)
        if name is not None:
            scores[name] = score
    return MappingProxyType(scores)


def _scored_key(problems: Problems, key: object, place: str) -> str | None:
    """A `values` / `any` key, lower-cased; None (reported) when it is not a usable key."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, str) and key:
        return key.lower()
    hint = f" (quote it: '{key}')" if isinstance(key, int | float) else ""
    problems.add(place, f"keys must be non-empty strings, got {shown(key)}{hint}")
    return None


def _read_behavioral(
    problems: Problems, value: dict[object, object], place: str
) -> BehavioralCriterion | None:
    """half_life (duration > 0), saturation (> 0) and a non-empty list of signals."""
    mark = problems.mark()
    fields = known_fields(problems, value, place, BEHAVIORAL_KEYS)
    criterion_id, weight = _read_common(problems, fields, place)
    half_life = read_duration(problems, fields.get("half_life", ABSENT), f"{place}.half_life")
    saturation = read_number(
        problems, fields.get("saturation", ABSENT), f"{place}.saturation", above=0
    )
    signals = read_signals(problems, fields.get("signals", ABSENT), f"{place}.signals")
    if len(signals) > MAX_SIGNALS:
        problems.add(
            f"{place}.signals", f"must have at most {MAX_SIGNALS} signals, got {len(signals)}"
        )
    if not problems.clean_since(mark):
        return None
    return BehavioralCriterion(criterion_id, weight, half_life, saturation, signals)


def _read_breadth(
    problems: Problems, value: dict[object, object], place: str
) -> BreadthCriterion | None:
    """window (duration > 0), saturation (> 0), of (a behavioral criterion, checked later)."""
    mark = problems.mark()
    fields = known_fields(problems, value, place, BREADTH_KEYS)
    criterion_id, weight = _read_common(problems, fields, place)
    window = read_duration(problems, fields.get("window", ABSENT), f"{place}.window")
    saturation = read_number(
        problems, fields.get("saturation", ABSENT), f"{place}.saturation", above=0
    )
    if saturation > MAX_BREADTH_SATURATION:
        # The state keeps the ceil(saturation) most recent contacts, at most 255 (docs/state.md).
        problems.add(
            f"{place}.saturation",
            f"must be at most {MAX_BREADTH_SATURATION} contacts, got {number_text(saturation)}",
        )
    of = read_ident(problems, fields.get("of", ABSENT), f"{place}.of", NAME_ID, NAME_ID_RULE)
    if not problems.clean_since(mark):
        return None
    return BreadthCriterion(criterion_id, weight, window, saturation, of)


def _check_breadth_targets(
    problems: Problems,
    items: Sequence[object],
    criteria: Sequence[Criterion | None],
    place: str,
) -> None:
    """Each breadth `of` names a behavioral criterion of the model with a positive signal."""
    kinds: dict[object, object] = {}
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("id"), Hashable):
            kinds.setdefault(item.get("id"), item.get("kind"))
    behavioral = {c.id: c for c in criteria if isinstance(c, BehavioralCriterion)}
    for i, criterion in enumerate(criteria):
        if not isinstance(criterion, BreadthCriterion):
            continue
        of_place = f"{place}[{i}].of"
        target = criterion.of
        if target not in kinds:
            known = tuple(str(key) for key in kinds)
            problems.add(
                of_place,
                f"names no criterion of this model: '{target}'{did_you_mean(target, known)}",
            )
        elif kinds[target] != "behavioral":
            problems.add(
                of_place, f"must name a behavioral criterion; '{target}' is {kinds[target]}"
            )
        elif target in behavioral and not any(s.points > 0 for s in behavioral[target].signals):
            problems.add(
                of_place,
                f"'{target}' has no signal with positive points, so no contact would ever count",
            )
