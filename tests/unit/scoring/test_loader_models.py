"""scoring.loader building models: strings lower-cased, read-only mappings, dotted field paths, the
docs/scoring.md example and the deployed example models loaded with their values, and parse_models
over several files (ids used twice, every file reported, order kept).
"""

from __future__ import annotations

import copy

import pytest
import yaml

from scoring.errors import ModelError
from scoring.loader import parse_model, parse_models
from scoring.model import (
    AnyCriterion,
    BandsCriterion,
    BehavioralCriterion,
    BreadthCriterion,
    Condition,
    ValuesCriterion,
)
from tests.unit.scoring.loader_cases import BASE, CASES, ROOT, SOURCE, _with


def test_strings_are_lower_cased() -> None:
    doc = copy.deepcopy(BASE)
    doc["criteria"][1]["values"] = {"Software": 10, "FINANCIAL-Services": 8}
    doc["criteria"][2]["any"] = {"Snowflake": 5}
    doc["criteria"][3]["signals"][1]["where"] = {
        "url": {"contains": "/Pricing"},
        "form": {"equals": "Demo"},
        "plan": {"in": ["Pro", 3, True]},
        "amount": {"gte": 100},
        "Seats": {"lte": 5.5},
    }
    model = parse_model(yaml.safe_dump(doc, sort_keys=False), SOURCE)
    values, stack, engagement = model.criteria[1], model.criteria[2], model.criteria[3]
    assert isinstance(values, ValuesCriterion)
    assert list(values.values) == ["software", "financial-services"]
    assert isinstance(stack, AnyCriterion)
    assert dict(stack.any) == {"snowflake": 5.0}
    assert isinstance(engagement, BehavioralCriterion)
    assert engagement.signals[1].where == (
        Condition("url", "contains", "/pricing"),
        Condition("form", "equals", "demo"),
        Condition("plan", "in", ("pro", 3, True)),
        Condition("amount", "gte", 100.0),
        Condition("Seats", "lte", 5.5),
    )


def test_stored_mappings_are_read_only() -> None:
    criterion = parse_model(yaml.safe_dump(BASE), SOURCE).criteria[1]
    assert isinstance(criterion, ValuesCriterion)
    with pytest.raises(TypeError):
        criterion.values["software"] = 0  # type: ignore[index]


def test_scoring_md_example_loads_with_its_values() -> None:
    model = parse_model((CASES / "scoring-md-example.yaml").read_text(), "nb.yaml")
    assert (model.id, model.version, model.scale, model.hysteresis) == ("new-business", 3, 10, 5)
    assert model.description == "New-logo pipeline - ICP fit plus buying intent."
    assert [(t.name, t.min, t.alert) for t in model.tiers] == [
        ("hot", 70, True),
        ("warm", 40, False),
        ("cold", 0, False),
    ]
    size, industry, stack, engagement, group = model.criteria
    assert isinstance(size, BandsCriterion)
    assert (size.kind, size.weight, size.field) == ("firmographic", 3, ("employees",))
    assert size.missing == 0
    assert [(b.min, b.score) for b in size.bands] == [(1000, 10), (200, 7), (50, 4), (1, 1)]
    assert isinstance(industry, ValuesCriterion)
    assert dict(industry.values) == {"software": 10, "financial-services": 8, "manufacturing": 5}
    assert (industry.default, industry.missing) == (2, 0)
    assert isinstance(stack, AnyCriterion)
    assert (stack.kind, stack.field) == ("technographic", ("technologies",))
    assert dict(stack.any) == {"salesforce": 4, "snowflake": 4, "segment": 3}
    assert isinstance(engagement, BehavioralCriterion)
    assert (engagement.weight, engagement.half_life, engagement.saturation) == (5, 14 * 86_400, 60)
    assert [(s.id, s.event, s.points, s.daily_cap) for s in engagement.signals] == [
        ("pricing_view", "page_view", 6, None),
        ("page_view", "page_view", 1, 20),
        ("download", "content_download", 8, None),
        ("email_open", "email_open", 0.5, 5),
        ("demo_request", "form_submit", 30, None),
        ("unsubscribe", "unsubscribe", -15, None),
    ]
    assert engagement.signals[0].where == (Condition("url", "contains", "/pricing"),)
    assert engagement.signals[4].where == (Condition("form", "equals", "demo"),)
    assert group == BreadthCriterion("buying_group", 2, 30 * 86_400, 5, "engagement")


def test_dotted_field_paths_are_split() -> None:
    criterion = parse_model(_with("criteria[1].field", "owner.team.name"), SOURCE).criteria[1]
    assert isinstance(criterion, ValuesCriterion)
    assert criterion.field == ("owner", "team", "name")


@pytest.mark.parametrize("name", ["new-business.yaml", "expansion.yaml"])
def test_example_models_load(name: str) -> None:
    model = parse_model((ROOT / "deploy" / "models" / name).read_text(), name)
    assert model.tiers[0].alert
    assert len(model.criteria) >= 7
    signals = [s for c in model.criteria if isinstance(c, BehavioralCriterion) for s in c.signals]
    assert len(signals) >= 10


def test_parse_models_refuses_a_model_id_used_twice() -> None:
    text = yaml.safe_dump(BASE)
    with pytest.raises(ModelError) as caught:
        parse_models([("a.yaml", text), ("b.yaml", text)])
    assert [str(p) for p in caught.value.problems] == [
        "b.yaml: id: model id 'test-model' is already used by a.yaml"
    ]


def test_parse_models_reports_every_file() -> None:
    with pytest.raises(ModelError) as caught:
        parse_models([("a.yaml", _with("version", 0)), ("b.yaml", _with("scale", 0))])
    assert [(p.file, p.place) for p in caught.value.problems] == [
        ("a.yaml", "version"),
        ("b.yaml", "scale"),
    ]


def test_parse_models_keeps_order() -> None:
    other = _with("id", "other")
    models = parse_models([("b.yaml", other), ("a.yaml", yaml.safe_dump(BASE))])
    assert [(m.id, m.source) for m in models] == [("other", "b.yaml"), ("test-model", "a.yaml")]
