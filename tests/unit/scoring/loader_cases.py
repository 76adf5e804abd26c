"""The model shared by the loader tests (test_loader_*.py): BASE, a small valid model with one
criterion of each shape, and helpers to break one thing in it and collect the problems the loader
reports.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from scoring.errors import ModelError, ModelProblem
from scoring.loader import parse_model

ROOT = Path(__file__).resolve().parents[3]
CASES = Path(__file__).parent / "model_cases"
SOURCE = "models/test.yaml"
DELETE = object()

# A small valid model with one criterion of each shape; the rule cases of test_loader_rules.py
# break one thing.
BASE: dict[str, Any] = {
    "id": "test-model",
    "version": 1,
    "tiers": [
        {"name": "hot", "min": 60, "alert": True},
        {"name": "warm", "min": 30},
        {"name": "cold", "min": 0},
    ],
    "criteria": [
        {
            "id": "size",
            "kind": "firmographic",
            "weight": 2,
            "field": "employees",
            "bands": [{"min": 500, "score": 10}, {"min": 50, "score": 5}],
        },
        {
            "id": "industry",
            "kind": "firmographic",
            "weight": 1,
            "field": "industry",
            "values": {"software": 10, "retail": 4},
            "default": 1,
        },
        {
            "id": "stack",
            "kind": "technographic",
            "weight": 1,
            "field": "technologies",
            "any": {"snowflake": 5, "segment": 5},
        },
        {
            "id": "engagement",
            "kind": "behavioral",
            "weight": 3,
            "half_life": "7d",
            "saturation": 30,
            "signals": [
                {"id": "visit", "event": "page_view", "points": 1, "daily_cap": 10},
                {
                    "id": "pricing",
                    "event": "page_view",
                    "points": 5,
                    "where": {"url": {"contains": "/pricing"}},
                },
            ],
        },
        {
            "id": "group",
            "kind": "breadth",
            "weight": 1,
            "window": "30d",
            "saturation": 3,
            "of": "engagement",
        },
    ],
}


def _with(path: str, value: object) -> str:
    """BASE as YAML with the value at `path` (`criteria[3].signals[0].points`) replaced."""
    doc = copy.deepcopy(BASE)
    steps: list[str | int] = [
        int(index) if index else key for index, key in re.findall(r"\[(\d+)\]|([^.\[\]]+)", path)
    ]
    parent: Any = doc
    for step in steps[:-1]:
        parent = parent[step]
    if value is DELETE:
        del parent[steps[-1]]
    else:
        parent[steps[-1]] = value
    return yaml.safe_dump(doc, sort_keys=False)


def _problems(text: str, source: str = SOURCE) -> tuple[ModelProblem, ...]:
    with pytest.raises(ModelError) as caught:
        parse_model(text, source)
    return caught.value.problems
