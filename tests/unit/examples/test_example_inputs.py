"""The sample inputs in examples/ are what the README's commands read: every line must be a
message the schemas accept, or the README would teach a user to produce dead letters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

ROOT = Path(__file__).resolve().parents[3]
FILES = {
    "profiles.jsonl": "account-profile.v1.schema.json",
    "events.jsonl": "behavioral-event.v1.schema.json",
}


@pytest.mark.parametrize(("name", "schema"), FILES.items())
def test_every_example_line_validates_against_its_schema(name: str, schema: str) -> None:
    loaded = json.loads((ROOT / "schemas" / schema).read_text(encoding="utf-8"))
    validator = Draft202012Validator(loaded, format_checker=FormatChecker())
    lines = (ROOT / "examples" / name).read_text(encoding="utf-8").splitlines()
    assert lines, f"examples/{name} is empty"
    problems = [
        f"examples/{name}:{number}: {error.json_path}: {error.message}"
        for number, line in enumerate(lines, 1)
        for error in validator.iter_errors(json.loads(line))
    ]
    assert not problems, "\n".join(problems)
