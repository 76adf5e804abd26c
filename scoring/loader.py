"""Model files (YAML text) -> validated, frozen `Model`s (SCORING.md section 2).

Pure: the caller reads the files (`streams.model_files`) and hands over `(source, text)`.
Every broken rule is collected, never only the first: `parse_model` and `parse_models` either
return models that keep every rule, or raise `ModelError` with one `ModelProblem` per problem,
each naming the file, the place in it (`criteria[2].signals[1].where.url.contains`, indexes
counted from 0) and the rule. docs/models.md is the user's reference for these rules.

Stored forms: durations in seconds, dotted field paths split on '.', `values` / `any` keys and
condition strings lower-cased, mappings read-only (`MappingProxyType`).

How the readers below work: each `_read_*` function records what is wrong with its value and
returns a stand-in of the right type; an element (tier, band, signal, criterion, model) is built
only when reading it recorded no new problem, otherwise it is None. Cross-checks (order, unique
names, breadth targets) look only at elements that were read cleanly, so one mistake is reported
once and does not cascade.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, TypeVar

import yaml

from scoring.errors import ModelError, ModelProblem
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
    ProfileCriterion,
    ProfileKind,
    PropertyValue,
    Signal,
    Tier,
    ValuesCriterion,
)
from scoring.timefmt import parse_duration

MODEL_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
NAME_ID: Final = re.compile(r"[a-z0-9_][a-z0-9_-]{0,63}")  # criterion and signal ids
EVENT_TYPE: Final = re.compile(r"[a-z][a-z0-9_]{0,63}")
DEFAULT_SCALE: Final = 10.0
TOTAL_MAX: Final = 100.0  # the total lies in [0, 100]: a tier min above it is unreachable

MODEL_KEYS: Final = ("id", "version", "description", "scale", "hysteresis", "tiers", "criteria")
TIER_KEYS: Final = ("name", "min", "alert")
BAND_KEYS: Final = ("min", "score")
COMMON_KEYS: Final = ("id", "kind", "weight")
PROFILE_KEYS: Final = (*COMMON_KEYS, "field", "bands", "values", "any", "default", "missing")
BEHAVIORAL_KEYS: Final = (*COMMON_KEYS, "half_life", "saturation", "signals")
BREADTH_KEYS: Final = (*COMMON_KEYS, "window", "saturation", "of")
MAX_BREADTH_SATURATION: Final = 255
# The batch commit sends tier indices as bytes, 255 meaning unknown (docs/redis-layout.md).
MAX_TIERS: Final = 254
ANY_KIND_KEYS: Final = tuple(dict.fromkeys(PROFILE_KEYS + BEHAVIORAL_KEYS + BREADTH_KEYS))
SIGNAL_KEYS: Final = ("id", "event", "points", "daily_cap", "where")
KINDS: Final = ("firmographic", "technographic", "behavioral", "breadth")
PROFILE_KINDS: Final[Mapping[object, ProfileKind]] = {
    "firmographic": "firmographic",
    "technographic": "technographic",
}
PROFILE_RULES: Final = ("bands", "values", "any")
OPERATORS: Final[Mapping[object, ConditionOp]] = {
    "equals": "equals",
    "contains": "contains",
    "in": "in",
    "gte": "gte",
    "lte": "lte",
}

MODEL_ID_RULE: Final = "must be 1 to 64 lower-case letters, digits and '-', not starting with '-'"
NAME_ID_RULE: Final = (
    "must be 1 to 64 lower-case letters, digits, '_' and '-', not starting with '-'"
)
EVENT_RULE: Final = "must be 1 to 64 lower-case letters, digits and '_', starting with a letter"
DURATION_RULE: Final = "must be a duration: a number followed by s, m, h or d, such as 14d or 36h"
OPERATOR_RULE: Final = "must hold exactly one operator: equals, contains, in, gte or lte"

T = TypeVar("T")


class _Absent:
    """Marks a key that the mapping does not hold (YAML `null` is a value, not an absence)."""


ABSENT: Final = _Absent()


class _StrictLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` that refuses duplicate keys and reads only true/false as booleans.

    YAML 1.1 also reads yes/no/on/off as booleans, so the country code `no` would turn into
    false; here they stay strings, as in YAML 1.2.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        """The mapping of `node`; raises `ConstructorError` at the second of two equal keys."""
        first_seen: dict[object, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, Hashable):
                continue  # the base class reports the unhashable key
            if key in first_seen:
                first_line = first_seen[key].start_mark.line + 1
                problem = f"duplicate key {key!r} (first at line {first_line})"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            first_seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


_BOOL_TAG: Final = "tag:yaml.org,2002:bool"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Problems:
    """The problems found so far in one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.found: list[ModelProblem] = []

    def add(self, place: str, rule: str) -> None:
        """Records that the value at `place` breaks `rule`."""
        self.found.append(ModelProblem(self.file, place, rule))

    def mark(self) -> int:
        """A checkpoint for `clean_since`."""
        return len(self.found)

    def clean_since(self, mark: int) -> bool:
        """True when no problem was recorded after `mark`."""
        return len(self.found) == mark


# ---------------------------------------------------------------------------------------------
# Public API


def parse_model(text: str, source: str) -> Model:
    """The model in YAML `text` read from `source` (a file name, used in messages).

    Raises `ModelError` with every problem found when the text breaks any rule.
    """
    problems = _Problems(source)
    model = _read_model(problems, text)
    if model is None:
        raise ModelError(problems.found)
    return model


def parse_models(documents: Sequence[tuple[str, str]]) -> tuple[Model, ...]:
    """The models of `(source, text)` pairs, in order; model ids must be unique across them.

    Raises `ModelError` with the problems of every document when any breaks a rule: all the
    models load, or none.
    """
    found: list[ModelProblem] = []
    models: list[Model] = []
    source_by_id: dict[str, str] = {}
    for source, text in documents:
        try:
            model = parse_model(text, source)
        except ModelError as err:
            found.extend(err.problems)
            continue
        if model.id in source_by_id:
            rule = f"model id '{model.id}' is already used by {source_by_id[model.id]}"
            found.append(ModelProblem(source, "id", rule))
        source_by_id.setdefault(model.id, source)
        models.append(model)
    if found:
        raise ModelError(found)
    return tuple(models)


# ---------------------------------------------------------------------------------------------
# The file and the model


def _read_model(problems: _Problems, text: str) -> Model | None:
    """The model of `text`, or None when `problems` received anything."""
    data = _read_yaml(problems, text)
    if not problems.clean_since(0):
        return None
    if not isinstance(data, dict):
        got = "the file is empty" if data is None else f"got {_shown(data)}"
        problems.add(
            "", f"the top level must be a mapping with id, version, tiers and criteria ({got})"
        )
        return None
    fields = _fields(problems, data, "", MODEL_KEYS)
    model_id = _read_ident(problems, fields.get("id", ABSENT), "id", MODEL_ID, MODEL_ID_RULE)
    version = _read_integer(problems, fields.get("version", ABSENT), "version", at_least=1)
    description = _read_text(problems, fields.get("description", ""), "description")
    before_scale = problems.mark()
    scale = _read_number(problems, fields.get("scale", DEFAULT_SCALE), "scale", above=0)
    known_scale = scale if problems.clean_since(before_scale) else None
    hysteresis = _read_number(problems, fields.get("hysteresis", 0), "hysteresis", at_least=0)
    tiers = _read_tiers(problems, fields.get("tiers", ABSENT), "tiers")
    criteria = _read_criteria(problems, fields.get("criteria", ABSENT), "criteria", known_scale)
    if not problems.clean_since(0):
        return None
    return Model(
        model_id, version, description.strip(), scale, hysteresis, tiers, criteria, problems.file
    )


def _read_yaml(problems: _Problems, text: str) -> object:
    """The YAML document in `text`; a syntax error or a duplicate key names its line and column."""
    try:
        return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problems.add("", f"{at}YAML error: {err.problem or err.context}")
    except yaml.YAMLError as err:
        problems.add("", f"YAML error: {err}")
    return None


# ---------------------------------------------------------------------------------------------
# Tiers


def _read_tiers(problems: _Problems, value: object, place: str) -> tuple[Tier, ...]:
    """Non-empty list of tiers, highest first, strictly falling min, the last min 0."""
    items = _read_items(problems, value, place)
    tiers = [_read_tier(problems, item, f"{place}[{i}]") for i, item in enumerate(items)]
    _check_unique(problems, items, place, "name", "tier name")
    _check_falling(
        problems, place, [(i, t.min) for i, t in enumerate(tiers) if t is not None], "tier"
    )
    if len(items) > MAX_TIERS:
        problems.add(place, f"must have at most {MAX_TIERS} tiers, got {len(items)}")
    if tiers and tiers[-1] is not None and tiers[-1].min != 0:
        last_min = _num(tiers[-1].min)
        problems.add(
            f"{place}[{len(tiers) - 1}].min", f"the last tier must have min 0, got {last_min}"
        )
    return _clean(tiers)


def _read_tier(problems: _Problems, value: object, place: str) -> Tier | None:
    """{name: non-empty string, min: number in [0, 100], alert: boolean (default false)}."""
    fields = _read_mapping(problems, value, place, TIER_KEYS)
    if fields is None:
        return None
    mark = problems.mark()
    name = _read_text(problems, fields.get("name", ABSENT), f"{place}.name", non_empty=True)
    floor = _read_number(problems, fields.get("min", ABSENT), f"{place}.min", at_least=0)
    if floor > TOTAL_MAX:
        problems.add(
            f"{place}.min", f"must be at most 100 (the total's maximum), got {_num(floor)}"
        )
    alert = _read_flag(problems, fields.get("alert", False), f"{place}.alert")
    return Tier(name, floor, alert) if problems.clean_since(mark) else None


# ---------------------------------------------------------------------------------------------
# Criteria


def _read_criteria(
    problems: _Problems, value: object, place: str, scale: float | None
) -> tuple[Criterion, ...]:
    """Non-empty list of criteria with unique ids; each breadth criterion names a behavioral one."""
    items = _read_items(problems, value, place)
    criteria = [
        _read_criterion(problems, item, f"{place}[{i}]", scale) for i, item in enumerate(items)
    ]
    _check_unique(problems, items, place, "id", "criterion id")
    _check_breadth_targets(problems, items, criteria, place)
    return _clean(criteria)


def _read_criterion(
    problems: _Problems, value: object, place: str, scale: float | None
) -> Criterion | None:
    """One criterion, read by the rules of its `kind`."""
    if not isinstance(value, dict):
        problems.add(place, f"must be a mapping with id, kind and weight, got {_shown(value)}")
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
            f"must be one of {', '.join(KINDS)}, got {_shown(kind)}{_hint(kind, KINDS)}",
        )
    _read_common(problems, _fields(problems, value, place, ANY_KIND_KEYS), place)
    return None


def _read_common(
    problems: _Problems, fields: Mapping[str, object], place: str
) -> tuple[str, float]:
    """The `id` and `weight` every criterion has."""
    criterion_id = _read_ident(
        problems, fields.get("id", ABSENT), f"{place}.id", NAME_ID, NAME_ID_RULE
    )
    weight = _read_number(problems, fields.get("weight", ABSENT), f"{place}.weight", above=0)
    return criterion_id, weight


def _read_profile_criterion(
    problems: _Problems,
    value: dict[object, object],
    place: str,
    scale: float | None,
    kind: ProfileKind,
) -> ProfileCriterion | None:
    """Firmographic / technographic: a `field` and exactly one of `bands`, `values`, `any`."""
    mark = problems.mark()
    fields = _fields(problems, value, place, PROFILE_KEYS)
    criterion_id, weight = _read_common(problems, fields, place)
    path = _read_field_path(problems, fields.get("field", ABSENT), f"{place}.field")
    missing = _read_score(problems, fields.get("missing", 0), f"{place}.missing", scale)
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
        default = _read_score(problems, fields.get("default", 0), f"{place}.default", scale)
        criterion = ValuesCriterion(criterion_id, kind, weight, path, scores, default, missing)
    return criterion if problems.clean_since(mark) else None


def _read_bands(
    problems: _Problems, value: object, place: str, scale: float | None
) -> tuple[Band, ...]:
    """Non-empty list of {min: number, score: score}, min strictly falling."""
    items = _read_items(problems, value, place)
    bands = [_read_band(problems, item, f"{place}[{i}]", scale) for i, item in enumerate(items)]
    _check_falling(
        problems, place, [(i, b.min) for i, b in enumerate(bands) if b is not None], "band"
    )
    return _clean(bands)


def _read_band(problems: _Problems, value: object, place: str, scale: float | None) -> Band | None:
    """{min: any finite number, score: score}."""
    fields = _read_mapping(problems, value, place, BAND_KEYS)
    if fields is None:
        return None
    mark = problems.mark()
    floor = _read_number(problems, fields.get("min", ABSENT), f"{place}.min")
    score = _read_score(problems, fields.get("score", ABSENT), f"{place}.score", scale)
    return Band(floor, score) if problems.clean_since(mark) else None


def _read_scored_keys(
    problems: _Problems, value: object, place: str, scale: float | None
) -> Mapping[str, float]:
    """Non-empty mapping value -> score (`values`, `any`); keys lower-cased, unique ignoring case.

    A key may be a string or a YAML boolean (true/false, stored "true"/"false").
    """
    if not isinstance(value, dict) or not value:
        got = "it is empty" if isinstance(value, dict) else f"got {_shown(value)}"
        problems.add(place, f"must be a non-empty mapping of value: score ({got})")
        return MappingProxyType({})
    scores: dict[str, float] = {}
    for key, raw_score in value.items():
        key_place = f"{place}.{key}"
        name = _scored_key(problems, key, key_place)
        if name in scores:
            problems.add(key_place, f"is listed twice (keys are compared ignoring case: '{name}')")
        score = _read_score(problems, raw_score, key_place, scale)
        if name is not None:
            scores[name] = score
    return MappingProxyType(scores)


def _scored_key(problems: _Problems, key: object, place: str) -> str | None:
    """A `values` / `any` key, lower-cased; None (reported) when it is not a usable key."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, str) and key:
        return key.lower()
    hint = f" (quote it: '{key}')" if isinstance(key, int | float) else ""
    problems.add(place, f"keys must be non-empty strings, got {_shown(key)}{hint}")
    return None


def _read_behavioral(
    problems: _Problems, value: dict[object, object], place: str
) -> BehavioralCriterion | None:
    """half_life (duration > 0), saturation (> 0) and a non-empty list of signals."""
    mark = problems.mark()
    fields = _fields(problems, value, place, BEHAVIORAL_KEYS)
    criterion_id, weight = _read_common(problems, fields, place)
    half_life = _read_duration(problems, fields.get("half_life", ABSENT), f"{place}.half_life")
    saturation = _read_number(
        problems, fields.get("saturation", ABSENT), f"{place}.saturation", above=0
    )
    signals = _read_signals(problems, fields.get("signals", ABSENT), f"{place}.signals")
    if not problems.clean_since(mark):
        return None
    return BehavioralCriterion(criterion_id, weight, half_life, saturation, signals)


def _read_signals(problems: _Problems, value: object, place: str) -> tuple[Signal, ...]:
    """Non-empty list of signals with ids unique within the criterion."""
    items = _read_items(problems, value, place)
    signals = [_read_signal(problems, item, f"{place}[{i}]") for i, item in enumerate(items)]
    _check_unique(problems, items, place, "id", "signal id")
    return _clean(signals)


def _read_signal(problems: _Problems, value: object, place: str) -> Signal | None:
    """{id, event, points (number, not 0), daily_cap (integer >= 1), where}; the last 2 optional."""
    fields = _read_mapping(problems, value, place, SIGNAL_KEYS)
    if fields is None:
        return None
    mark = problems.mark()
    signal_id = _read_ident(
        problems, fields.get("id", ABSENT), f"{place}.id", NAME_ID, NAME_ID_RULE
    )
    event = _read_ident(
        problems, fields.get("event", ABSENT), f"{place}.event", EVENT_TYPE, EVENT_RULE
    )
    before_points = problems.mark()
    points = _read_number(problems, fields.get("points", ABSENT), f"{place}.points")
    if points == 0 and problems.clean_since(before_points):
        problems.add(
            f"{place}.points", "must not be 0 (a signal worth nothing does nothing: remove it)"
        )
    daily_cap = None
    if "daily_cap" in fields:
        daily_cap = _read_integer(problems, fields["daily_cap"], f"{place}.daily_cap", at_least=1)
    where: tuple[Condition, ...] = ()
    if "where" in fields:
        where = _read_where(problems, fields["where"], f"{place}.where")
    return (
        Signal(signal_id, event, points, where, daily_cap) if problems.clean_since(mark) else None
    )


def _read_where(problems: _Problems, value: object, place: str) -> tuple[Condition, ...]:
    """Non-empty mapping property -> {operator: operand}; all conditions must match."""
    if not isinstance(value, dict) or not value:
        got = (
            "it is empty: leave where out to match every event"
            if isinstance(value, dict)
            else f"got {_shown(value)}"
        )
        problems.add(place, f"must be a non-empty mapping of property: {{operator: value}} ({got})")
        return ()
    conditions = [
        _read_condition(problems, prop, test, f"{place}.{prop}") for prop, test in value.items()
    ]
    return _clean(conditions)


def _read_condition(
    problems: _Problems, prop: object, test: object, place: str
) -> Condition | None:
    """`prop: {op: operand}` with exactly one operator."""
    if not isinstance(prop, str) or not prop:
        problems.add(place, f"property names must be non-empty strings, got {_shown(prop)}")
        return None
    if not isinstance(test, dict) or len(test) != 1:
        got = f"{len(test)} operators" if isinstance(test, dict) else _shown(test)
        problems.add(place, f"{OPERATOR_RULE}, such as {{contains: /pricing}}, got {got}")
        return None
    [(op, operand)] = test.items()
    if op not in OPERATORS:
        problems.add(
            f"{place}.{op}",
            f"unknown operator{_hint(op, tuple(OPERATORS.values()))}; {OPERATOR_RULE}",
        )
        return None
    mark = problems.mark()
    stored = _read_operand(problems, OPERATORS[op], operand, f"{place}.{op}")
    return Condition(prop, OPERATORS[op], stored) if problems.clean_since(mark) else None


def _read_operand(
    problems: _Problems, op: ConditionOp, value: object, place: str
) -> PropertyValue | tuple[PropertyValue, ...]:
    """equals: string, number or boolean; contains: non-empty string; in: non-empty list of
    those; gte / lte: number. Strings lower-cased."""
    if op == "contains":
        return _read_text(problems, value, place, non_empty=True).lower()
    if op in ("gte", "lte"):
        return _read_number(problems, value, place)
    if op == "equals":
        return _read_property_value(problems, value, place)
    if not isinstance(value, list) or not value:
        problems.add(
            place, f"must be a non-empty list of strings, numbers or booleans, got {_shown(value)}"
        )
        return ()
    return tuple(
        _read_property_value(problems, item, f"{place}[{i}]") for i, item in enumerate(value)
    )


def _read_property_value(problems: _Problems, value: object, place: str) -> PropertyValue:
    """A string (lower-cased), a finite number or a boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, int | float) and _finite(value):
        return value
    problems.add(place, f"must be a string, a finite number or a boolean, got {_shown(value)}")
    return ""


def _read_breadth(
    problems: _Problems, value: dict[object, object], place: str
) -> BreadthCriterion | None:
    """window (duration > 0), saturation (> 0), of (a behavioral criterion, checked later)."""
    mark = problems.mark()
    fields = _fields(problems, value, place, BREADTH_KEYS)
    criterion_id, weight = _read_common(problems, fields, place)
    window = _read_duration(problems, fields.get("window", ABSENT), f"{place}.window")
    saturation = _read_number(
        problems, fields.get("saturation", ABSENT), f"{place}.saturation", above=0
    )
    if saturation > MAX_BREADTH_SATURATION:
        # The state keeps the ceil(saturation) most recent contacts, at most 255 (docs/state.md).
        problems.add(
            f"{place}.saturation",
            f"must be at most {MAX_BREADTH_SATURATION} contacts, got {_num(saturation)}",
        )
    of = _read_ident(problems, fields.get("of", ABSENT), f"{place}.of", NAME_ID, NAME_ID_RULE)
    if not problems.clean_since(mark):
        return None
    return BreadthCriterion(criterion_id, weight, window, saturation, of)


def _check_breadth_targets(
    problems: _Problems,
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
                of_place, f"names no criterion of this model: '{target}'{_hint(target, known)}"
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


# ---------------------------------------------------------------------------------------------
# Cross-checks


def _check_unique(
    problems: _Problems, items: Sequence[object], place: str, key: str, what: str
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


def _check_falling(
    problems: _Problems, place: str, floors: Sequence[tuple[int, float]], what: str
) -> None:
    """`floors` ((index, min) in list order) strictly fall."""
    for (i, upper), (j, lower) in zip(floors, floors[1:], strict=False):
        if lower >= upper:
            problems.add(
                place,
                f"min must fall from {what} to {what}: {what}s[{j}].min {_num(lower)} is not "
                f"below {what}s[{i}].min {_num(upper)}",
            )


# ---------------------------------------------------------------------------------------------
# Readers of one value: record what is wrong, return a stand-in of the right type


def _read_mapping(
    problems: _Problems, value: object, place: str, allowed: Sequence[str]
) -> dict[str, object] | None:
    """`value` as a mapping holding only `allowed` keys; None when it is no mapping at all."""
    if not isinstance(value, dict):
        problems.add(
            place, f"must be a mapping with keys {', '.join(allowed)}, got {_shown(value)}"
        )
        return None
    return _fields(problems, value, place, allowed)


def _fields(
    problems: _Problems, value: dict[object, object], place: str, allowed: Sequence[str]
) -> dict[str, object]:
    """The `allowed` keys of `value`; every other key is reported, with a hint when close."""
    fields: dict[str, object] = {}
    for key, item in value.items():
        if isinstance(key, str) and key in allowed:
            fields[key] = item
            continue
        hint = _hint(key, allowed) or f" (allowed here: {', '.join(allowed)})"
        problems.add(_join(place, str(key)), f"unknown key{hint}")
    return fields


def _read_items(problems: _Problems, value: object, place: str) -> list[object]:
    """`value` as a non-empty list."""
    if value is ABSENT:
        problems.add(place, "required key is missing")
        return []
    if not isinstance(value, list) or not value:
        got = "it is empty" if isinstance(value, list) else f"got {_shown(value)}"
        problems.add(place, f"must be a non-empty list ({got})")
        return []
    return value


def _read_number(
    problems: _Problems,
    value: object,
    place: str,
    *,
    above: float | None = None,
    at_least: float | None = None,
) -> float:
    """A finite int or float (never a boolean), optionally `> above` or `>= at_least`."""
    if value is ABSENT:
        problems.add(place, "required key is missing")
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not _finite(value):
        problems.add(place, f"must be a finite number, got {_shown(value)}")
        return 0.0
    number = float(value)
    if above is not None and not number > above:
        problems.add(place, f"must be greater than {_num(above)}, got {_num(number)}")
    if at_least is not None and number < at_least:
        problems.add(place, f"must be at least {_num(at_least)}, got {_num(number)}")
    return number


def _read_score(problems: _Problems, value: object, place: str, scale: float | None) -> float:
    """A number in [0, scale]; when the scale itself is broken, only >= 0 is checked."""
    mark = problems.mark()
    score = _read_number(problems, value, place, at_least=0)
    if scale is not None and problems.clean_since(mark) and score > scale:
        problems.add(
            place, f"must be between 0 and the model's scale {_num(scale)}, got {_num(score)}"
        )
    return score


def _read_integer(problems: _Problems, value: object, place: str, *, at_least: int) -> int:
    """An int (never a boolean, never a float such as 3.0) `>= at_least`."""
    if value is ABSENT:
        problems.add(place, "required key is missing")
        return at_least
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add(place, f"must be a whole number, got {_shown(value)}")
        return at_least
    if value < at_least:
        problems.add(place, f"must be at least {at_least}, got {value}")
    return value


def _read_flag(problems: _Problems, value: object, place: str) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        problems.add(place, f"must be true or false, got {_shown(value)}")
        return False
    return value


def _read_text(problems: _Problems, value: object, place: str, *, non_empty: bool = False) -> str:
    """A string; `non_empty` refuses '' and blanks."""
    if value is ABSENT:
        problems.add(place, "required key is missing")
        return ""
    if not isinstance(value, str):
        problems.add(place, f"must be a string, got {_shown(value)}")
        return ""
    if non_empty and not value.strip():
        problems.add(place, "must not be empty")
    return value


def _read_ident(
    problems: _Problems, value: object, place: str, pattern: re.Pattern[str], rule: str
) -> str:
    """A string matching `pattern` in full; `rule` says the pattern in words."""
    mark = problems.mark()
    text = _read_text(problems, value, place)
    if problems.clean_since(mark) and not pattern.fullmatch(text):
        problems.add(place, f"{rule}, got {_shown(text)}")
    return text


def _read_duration(problems: _Problems, value: object, place: str) -> float:
    """`14d`, `36h`, `90m`, `30s` -> seconds, > 0."""
    if value is ABSENT:
        problems.add(place, "required key is missing")
        return 0.0
    try:
        seconds = parse_duration(value) if isinstance(value, str) else math.nan
    except ValueError:
        seconds = math.nan
    if math.isnan(seconds):
        problems.add(place, f"{DURATION_RULE}, got {_shown(value)}")
    elif seconds <= 0:
        problems.add(place, f"must be longer than 0, got {_shown(value)}")
    return seconds


def _read_field_path(problems: _Problems, value: object, place: str) -> tuple[str, ...]:
    """A dotted path into the profile (`employees`, `owner.email`), split on '.'."""
    mark = problems.mark()
    text = _read_text(problems, value, place)
    segments = tuple(text.split("."))
    if problems.clean_since(mark) and not all(s and s == s.strip() for s in segments):
        rule = "must be a dotted path of non-empty names, such as employees or owner.email"
        problems.add(place, f"{rule}, got {_shown(text)}")
    return segments


# ---------------------------------------------------------------------------------------------
# Small helpers


def _clean(elements: Iterable[T | None]) -> tuple[T, ...]:
    """The elements that were read cleanly (the others are reported already)."""
    return tuple(element for element in elements if element is not None)


def _finite(value: int | float) -> bool:
    """True for a number a float can hold exactly enough and that is not inf or nan."""
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float range
        return False


def _join(place: str, key: str) -> str:
    """`place.key`, or `key` at the top level."""
    return f"{place}.{key}" if place else key


def _hint(word: object, choices: Sequence[str]) -> str:
    """` (did you mean 'weight'?)` when `word` is close to one of `choices`, else ''."""
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _num(number: float) -> str:
    """A number as a model author wrote it: 70, 0.5, -15."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def _shown(value: object) -> str:
    """A short description of a YAML value for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, int | float):
        return _num(float(value)) if _finite(value) else repr(value)
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"
