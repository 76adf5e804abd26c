"""scoring.loader: every rule of docs/scoring.md section 2 (and docs/models.md) and its message:
each broken value names its place and rule, the top level, tier and breadth limits, unknown kinds,
every problem collected at once, and the scale that bounds scores.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import yaml

from scoring.loader import parse_model
from tests.unit.scoring.loader_cases import BASE, DELETE, SOURCE, _problems, _with


def test_base_model_is_valid() -> None:
    model = parse_model(yaml.safe_dump(BASE), SOURCE)
    assert model.id == "test-model"
    assert model.source == SOURCE
    assert (model.scale, model.hysteresis, model.description) == (10.0, 0.0, "")


# A broken value and the rule it breaks: (path, new value, expected place, words of the rule).
W = "criteria[3].signals[1].where"
S0 = "criteria[3].signals[0]"
S1 = "criteria[3].signals[1]"


def _case(path: str, value: object, rule: str, place: str | None = None) -> Any:
    """One rule case; the problem's place is `path` unless said otherwise."""
    return pytest.param(path, value, path if place is None else place, rule, id=f"{path}={value!r}")


RULE_CASES = [
    # top level
    _case("versoin", 1, "unknown key (did you mean 'version'?)"),
    _case("colour", "red", "unknown key (allowed here: id, version,"),
    _case("id", DELETE, "required key is missing"),
    _case("id", "New_Business", "lower-case letters, digits and '-'"),
    _case("id", "-nb", "not starting with '-'"),
    _case("id", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "1 to 64"),
    _case("id", 7, "must be a string, got 7"),
    _case("version", DELETE, "required key is missing"),
    _case("version", 0, "must be at least 1, got 0"),
    _case("version", True, "must be a whole number, got true"),
    _case("version", 3.0, "must be a whole number, got 3"),
    _case("description", 5, "must be a string"),
    _case("scale", 0, "must be greater than 0, got 0"),
    _case("scale", "ten", "must be a finite number, got 'ten'"),
    _case("scale", True, "must be a finite number, got true"),
    _case("scale", math.inf, "must be a finite number"),
    _case("scale", math.nan, "must be a finite number"),
    _case("hysteresis", -1, "must be at least 0, got -1"),
    # tiers
    _case("tiers", DELETE, "required key is missing"),
    _case("tiers", [], "must be a non-empty list (it is empty)"),
    _case("tiers", {"hot": 70}, "must be a non-empty list (got a mapping)"),
    _case("tiers[0]", "hot", "must be a mapping with keys name, min, alert"),
    _case("tiers[1].min", 60, "min must fall from tier to tier: tiers[1].min 60", place="tiers"),
    _case("tiers[2].min", 10, "the last tier must have min 0, got 10"),
    _case("tiers[0].min", 101, "must be at most 100"),
    _case("tiers[0].min", "high", "must be a finite number"),
    _case("tiers[1].name", "hot", "tier name 'hot' is already used by tiers[0]"),
    _case("tiers[1].name", " ", "must not be empty"),
    _case("tiers[1].name", 5, "must be a string"),
    _case("tiers[1].name", DELETE, "required key is missing"),
    _case("tiers[0].alert", "yes", "must be true or false, got 'yes'"),
    _case("tiers[0].minimum", 5, "unknown key (did you mean 'min'?)"),
    # criteria, common
    _case("criteria", [], "must be a non-empty list"),
    _case("criteria", DELETE, "required key is missing"),
    _case("criteria[0]", "size", "must be a mapping with id, kind and weight"),
    _case("criteria[0].id", "Size", "lower-case letters, digits, '_' and '-'"),
    _case("criteria[1].id", "size", "criterion id 'size' is already used by criteria[0]"),
    _case("criteria[0].kind", DELETE, "required key is missing"),
    _case("criteria[0].kind", "firmographics", "did you mean 'firmographic'?"),
    _case("criteria[0].weight", 0, "must be greater than 0, got 0"),
    _case("criteria[0].weight", -2, "must be greater than 0"),
    _case("criteria[0].weight", DELETE, "required key is missing"),
    _case("criteria[0].weight", False, "must be a finite number, got false"),
    _case("criteria[0].wieght", 1, "unknown key (did you mean 'weight'?)"),
    # firmographic / technographic
    _case("criteria[0].field", DELETE, "required key is missing"),
    _case("criteria[0].field", "owner..email", "dotted path of non-empty names"),
    _case("criteria[0].field", "", "dotted path of non-empty names"),
    _case("criteria[0].field", ["employees"], "must be a string"),
    _case(
        "criteria[0].bands",
        DELETE,
        "needs exactly one of bands, values or any",
        place="criteria[0]",
    ),
    _case(
        "criteria[1].any",
        {"x": 1},
        "exactly one of bands, values or any, got values and any",
        place="criteria[1]",
    ),
    _case("criteria[0].default", 2, "is only allowed with values"),
    _case("criteria[2].default", 2, "is only allowed with values"),
    _case("criteria[0].missing", 11, "must be between 0 and the model's scale 10"),
    _case("criteria[2].missing", -1, "must be at least 0"),
    # bands
    _case("criteria[0].bands", [], "must be a non-empty list"),
    _case(
        "criteria[0].bands[1].min",
        500,
        "min must fall from band to band",
        place="criteria[0].bands",
    ),
    _case(
        "criteria[0].bands[1].min",
        900,
        "bands[1].min 900 is not below bands[0].min 500",
        place="criteria[0].bands",
    ),
    _case("criteria[0].bands[1].min", "50", "must be a finite number, got '50'"),
    _case("criteria[0].bands[0].score", 12, "between 0 and the model's scale 10, got 12"),
    _case("criteria[0].bands[0].score", -1, "must be at least 0"),
    _case("criteria[0].bands[0].score", DELETE, "required key is missing"),
    _case("criteria[0].bands[0].points", 1, "unknown key"),
    # values / any
    _case("criteria[1].values", {}, "must be a non-empty mapping of value: score (it is empty)"),
    _case("criteria[1].values", ["software"], "must be a non-empty mapping"),
    _case("criteria[1].values.software", 10.5, "between 0 and the model's scale 10"),
    _case(
        "criteria[1].values.Retail",
        3,
        "is listed twice (keys are compared ignoring case: 'retail')",
    ),
    _case(
        "criteria[1].values",
        {"a": 1, 1: 3},
        "keys must be non-empty strings, got 1 (quote it: '1')",
        place="criteria[1].values.1",
    ),
    _case(
        "criteria[1].values",
        {"a": 1, "": 3},
        "keys must be non-empty strings, got ''",
        place="criteria[1].values.",
    ),
    _case("criteria[1].default", 11, "between 0 and the model's scale 10"),
    _case("criteria[2].any.segment", 11, "between 0 and the model's scale 10"),
    _case("criteria[2].any", {}, "must be a non-empty mapping"),
    # behavioral
    _case("criteria[3].half_life", DELETE, "required key is missing"),
    _case(
        "criteria[3].half_life", "14 days", "must be a duration: a number followed by s, m, h or d"
    ),
    _case("criteria[3].half_life", 14, "must be a duration"),
    _case("criteria[3].half_life", "0d", "must be longer than 0"),
    _case("criteria[3].half_life", "-2h", "must be longer than 0"),
    _case("criteria[3].saturation", 0, "must be greater than 0"),
    _case("criteria[3].saturation", DELETE, "required key is missing"),
    _case("criteria[3].field", "x", "unknown key (allowed here: id, kind, weight, half_life"),
    _case("criteria[3].signals", [], "must be a non-empty list"),
    _case("criteria[3].signals", DELETE, "required key is missing"),
    # signals
    _case(f"{S1}.id", "visit", "signal id 'visit' is already used by criteria[3].signals[0]"),
    _case(f"{S1}.id", DELETE, "required key is missing"),
    _case(f"{S0}.event", "Page-View", "starting with a letter"),
    _case(f"{S0}.event", "1click", "starting with a letter"),
    _case(f"{S0}.points", 0, "must not be 0"),
    _case(f"{S0}.points", "1", "must be a finite number"),
    _case(f"{S0}.points", DELETE, "required key is missing"),
    _case(f"{S0}.daily_cap", 0, "must be at least 1, got 0"),
    _case(f"{S0}.daily_cap", 2.5, "must be a whole number"),
    _case(f"{S0}.daily_cap", True, "must be a whole number"),
    _case(f"{S0}.cap", 3, "unknown key (allowed here: id, event, points, daily_cap, where)"),
    _case(f"{S0}", "visit", "must be a mapping"),
    # where
    _case(f"{W}", "url=/pricing", "must be a non-empty mapping of property"),
    _case(f"{W}", {}, "leave where out to match every event"),
    _case(f"{W}.url", "/pricing", "must hold exactly one operator"),
    _case(f"{W}.url", {"contains": "a", "equals": "b"}, "must hold exactly one operator"),
    _case(f"{W}.url", {"startswith": "/p"}, "unknown operator", place=f"{W}.url.startswith"),
    _case(
        f"{W}.url",
        {"contain": "/p"},
        "unknown operator (did you mean 'contains'?)",
        place=f"{W}.url.contain",
    ),
    _case(f"{W}.url.contains", 5, "must be a string"),
    _case(f"{W}.url.contains", "", "must not be empty"),
    _case(
        f"{W}.url",
        {"in": []},
        "must be a non-empty list of strings, numbers or booleans",
        place=f"{W}.url.in",
    ),
    _case(f"{W}.url", {"in": "a"}, "must be a non-empty list", place=f"{W}.url.in"),
    _case(
        f"{W}.url",
        {"in": ["a", ["b"]]},
        "must be a string, a finite number or a boolean",
        place=f"{W}.url.in[1]",
    ),
    _case(f"{W}.url", {"equals": None}, "got null", place=f"{W}.url.equals"),
    _case(f"{W}.url", {"equals": ["a"]}, "got a list", place=f"{W}.url.equals"),
    _case(f"{W}.amount", {"gte": "5"}, "must be a finite number, got '5'", place=f"{W}.amount.gte"),
    _case(
        f"{W}.amount", {"lte": True}, "must be a finite number, got true", place=f"{W}.amount.lte"
    ),
    # breadth
    _case("criteria[4].window", "a month", "must be a duration"),
    _case("criteria[4].window", "0s", "must be longer than 0"),
    _case("criteria[4].window", DELETE, "required key is missing"),
    _case("criteria[4].saturation", -3, "must be greater than 0"),
    _case("criteria[4].saturation", 256, "must be at most 255 contacts, got 256"),
    _case("criteria[4].of", DELETE, "required key is missing"),
    _case(
        "criteria[4].of",
        "engagment",
        "names no criterion of this model: 'engagment' (did you mean 'engagement'?)",
    ),
    _case("criteria[4].of", "size", "must name a behavioral criterion; 'size' is firmographic"),
    _case("criteria[4].of", "group", "must name a behavioral criterion; 'group' is breadth"),
    _case("criteria[4].signals", [], "unknown key"),
]


@pytest.mark.parametrize(("path", "value", "place", "rule"), RULE_CASES)
def test_each_rule_names_its_place(path: str, value: object, place: str, rule: str) -> None:
    problems = _problems(_with(path, value))
    assert [(p.file, p.place) for p in problems] == [(SOURCE, place)], problems
    assert rule in problems[0].rule


def test_at_most_254_tiers() -> None:
    # The batch commit sends a tier's index as a byte, 255 standing for an unknown tier.
    tiers = [{"name": f"t{i}", "min": (253 - i) / 4} for i in range(254)]
    assert len(parse_model(_with("tiers", tiers), SOURCE).tiers) == 254
    problems = _problems(_with("tiers", [{"name": "top", "min": 64}, *tiers]))
    assert [(p.place, p.rule) for p in problems] == [
        ("tiers", "must have at most 254 tiers, got 255")
    ]


def test_breadth_of_a_criterion_without_positive_signal() -> None:
    doc = copy.deepcopy(BASE)
    for signal in doc["criteria"][3]["signals"]:
        signal["points"] = -1
    problems = _problems(yaml.safe_dump(doc))
    assert [p.place for p in problems] == ["criteria[4].of"]
    assert "no signal with positive points" in problems[0].rule


def test_unknown_kind_still_checks_id_weight_and_keys() -> None:
    text = _with("criteria[0]", {"id": "Bad", "kind": "fit", "weight": 0, "colour": 1})
    places = [p.place for p in _problems(text)]
    assert places == [
        "criteria[0].kind",
        "criteria[0].colour",
        "criteria[0].id",
        "criteria[0].weight",
    ]


TOP_LEVEL = "the top level must be a mapping with id, version, tiers and criteria"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", f"{TOP_LEVEL} (the file is empty)"),
        ("- a\n- b\n", f"{TOP_LEVEL} (got a list)"),
        ("just text", f"{TOP_LEVEL} (got 'just text')"),
    ],
)
def test_top_level_must_be_a_mapping(text: str, rule: str) -> None:
    problems = _problems(text)
    assert [p.place for p in problems] == [""]
    assert problems[0].rule.startswith(rule)


def test_every_problem_is_collected() -> None:
    doc = copy.deepcopy(BASE)
    doc["version"] = 0
    doc["tiers"][2]["min"] = 5
    doc["criteria"][0]["bands"][1]["min"] = 800
    doc["criteria"][1]["values"]["software"] = 20
    doc["criteria"][3]["signals"][1]["where"]["url"] = {"contain": "/pricing"}
    doc["criteria"][4]["of"] = "nothing"
    problems = _problems(yaml.safe_dump(doc, sort_keys=False))
    assert [str(p) for p in problems] == [
        "models/test.yaml: version: must be at least 1, got 0",
        "models/test.yaml: tiers[2].min: the last tier must have min 0, got 5",
        "models/test.yaml: criteria[0].bands: min must fall from band to band: "
        "bands[1].min 800 is not below bands[0].min 500",
        "models/test.yaml: criteria[1].values.software: "
        "must be between 0 and the model's scale 10, got 20",
        "models/test.yaml: criteria[3].signals[1].where.url.contain: "
        "unknown operator (did you mean 'contains'?); "
        "must hold exactly one operator: equals, contains, in, gte or lte",
        "models/test.yaml: criteria[4].of: names no criterion of this model: 'nothing'",
    ]


def test_a_broken_scale_does_not_also_refuse_every_score() -> None:
    problems = _problems(_with("scale", -1))
    assert [p.place for p in problems] == ["scale"]


def test_a_larger_scale_allows_larger_scores() -> None:
    doc = copy.deepcopy(BASE)
    doc["scale"] = 100
    doc["criteria"][0]["bands"][0]["score"] = 100
    model = parse_model(yaml.safe_dump(doc), SOURCE)
    assert model.scale == 100.0
