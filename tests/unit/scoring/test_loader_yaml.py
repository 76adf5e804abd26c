"""scoring.loader reading YAML: duplicate keys and syntax errors are problems with their line and
column; only true and false are booleans (a bare `no` key stays a string), and boolean keys of
values are stored as "true" and "false".
"""

from __future__ import annotations

import copy
import re

import yaml

from scoring.loader import parse_model
from scoring.model import ValuesCriterion
from tests.unit.scoring.loader_cases import BASE, SOURCE, _problems, _with


def test_duplicate_key_is_an_error_with_its_line() -> None:
    text = "id: nb\nversion: 1\nid: other\n"
    problems = _problems(text)
    assert [(p.place, p.rule) for p in problems] == [
        ("", "line 3, column 1: YAML error: duplicate key 'id' (first at line 1)")
    ]


def test_duplicate_key_deep_inside() -> None:
    text = _with("criteria[0].weight", 2).replace("  weight: 2\n", "  weight: 2\n  weight: 3\n", 1)
    problems = _problems(text)
    assert len(problems) == 1
    assert "duplicate key 'weight'" in problems[0].rule
    assert problems[0].rule.startswith("line ")


def test_yaml_syntax_error_names_line_and_column() -> None:
    text = "id: nb\nversion: 1\ntiers: [\n  {name: hot, min: 0}\ncriteria: []\n"
    problems = _problems(text)
    assert len(problems) == 1
    assert problems[0].place == ""
    assert re.match(r"line 5, column \d+: YAML error: ", problems[0].rule), problems[0].rule


def test_yaml_mapping_value_error_names_line() -> None:
    problems = _problems("id: nb\nversion: 1\ndescription: a: b\n")
    assert problems[0].rule.startswith("line 3, column 15: YAML error: mapping values are not")


def test_yes_no_on_off_stay_strings_only_true_false_are_booleans() -> None:
    doc = copy.deepcopy(BASE)
    doc["criteria"][1] = {
        "id": "region",
        "kind": "firmographic",
        "weight": 1,
        "field": "country",
        "values": {"us": 10, "no": 7},
    }
    text = yaml.safe_dump(doc).replace("'no'", "no")  # as a person would write it
    assert "  no: 7" in text
    criterion = parse_model(text, SOURCE).criteria[1]
    assert isinstance(criterion, ValuesCriterion)
    assert dict(criterion.values) == {"us": 10.0, "no": 7.0}


def test_boolean_values_keys_are_stored_as_true_false() -> None:
    text = _with("criteria[1].values", {True: 10, False: 0})
    criterion = parse_model(text, SOURCE).criteria[1]
    assert isinstance(criterion, ValuesCriterion)
    assert dict(criterion.values) == {"true": 10.0, "false": 0.0}
