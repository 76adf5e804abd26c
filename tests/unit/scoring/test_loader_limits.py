"""The limits of the state codec are the loader's rules too: a model that passes
`scorer model check` is a model the engine runs (docs/models.md)."""

from __future__ import annotations

import copy

import pytest
import yaml

from scoring.engine import Engine
from scoring.errors import ModelError
from scoring.loader import parse_model
from scoring.loader.rules import MAX_BEHAVIORAL_CRITERIA, MAX_SIGNALS
from tests.unit.scoring.loader_cases import BASE, SOURCE


def _refused(doc: dict[str, object]) -> list[tuple[str, str]]:
    with pytest.raises(ModelError) as caught:
        parse_model(yaml.safe_dump(doc, sort_keys=False), SOURCE)
    return [(p.place, p.rule) for p in caught.value.problems]


def _signals(count: int) -> list[dict[str, object]]:
    return [{"id": f"s{i}", "event": "page_view", "points": 1} for i in range(count)]


def _behavioral(index: int) -> dict[str, object]:
    return {
        "id": f"b{index}",
        "kind": "behavioral",
        "weight": 1,
        "half_life": "7d",
        "saturation": 10,
        "signals": _signals(1),
    }


def test_a_criterion_of_more_signals_than_the_codec_counts_is_refused() -> None:
    doc = copy.deepcopy(BASE)
    doc["criteria"][3]["signals"] = _signals(MAX_SIGNALS + 1)
    assert _refused(doc) == [
        ("criteria[3].signals", f"must have at most {MAX_SIGNALS} signals, got {MAX_SIGNALS + 1}")
    ]
    doc["criteria"][3]["signals"] = _signals(MAX_SIGNALS)
    Engine([parse_model(yaml.safe_dump(doc, sort_keys=False), SOURCE)])


def test_a_model_of_more_behavioral_criteria_than_the_codec_counts_is_refused() -> None:
    doc = copy.deepcopy(BASE)
    doc["criteria"] = doc["criteria"][:3] + [_behavioral(i) for i in range(MAX_BEHAVIORAL_CRITERIA)]
    Engine([parse_model(yaml.safe_dump(doc, sort_keys=False), SOURCE)])
    doc["criteria"].append(_behavioral(MAX_BEHAVIORAL_CRITERIA))
    assert _refused(doc) == [
        (
            "criteria",
            f"must have at most {MAX_BEHAVIORAL_CRITERIA} behavioral criteria, "
            f"got {MAX_BEHAVIORAL_CRITERIA + 1}",
        )
    ]
