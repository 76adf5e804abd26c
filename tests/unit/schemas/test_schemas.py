"""The wire formats in schemas/: valid schemas, examples that prove them, topics that name them.

The topic YAMLs are the index, as in sentry-kafka-schemas: each names its schema files and the
example folders that go with them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
TOPICS = sorted((SCHEMAS / "topics").glob("*.yaml"))


def _topic(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return loaded


def _versions() -> list[tuple[str, dict[str, Any]]]:
    """(topic file name, one `schemas:` entry) for every schema version of every topic."""
    return [(path.name, entry) for path in TOPICS for entry in _topic(path)["schemas"]]


def _examples(entry: dict[str, Any], *, valid: bool) -> list[Path]:
    """The valid (`*.json`) or invalid (`invalid/*.json`) examples of a topic's schema version."""
    found: list[Path] = []
    for folder in entry["examples"]:
        base = SCHEMAS / "examples" / folder
        found += sorted(base.glob("*.json") if valid else (base / "invalid").glob("*.json"))
    return found


def _validator(resource: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / resource).read_text(encoding="utf-8"))
    return Draft202012Validator(schema, format_checker=FormatChecker())


def _cases(*, valid: bool) -> list[Any]:
    return [
        pytest.param(entry["resource"], example, id=f"{entry['resource']}:{example.name}")
        for _, entry in _versions()
        for example in _examples(entry, valid=valid)
    ]


def test_there_are_topics_and_examples() -> None:
    assert [path.name for path in TOPICS] == [
        "account-events-dlq.yaml",
        "account-events.yaml",
        "account-profiles.yaml",
        "account-score-changes.yaml",
    ]
    assert len(_cases(valid=True)) >= 10
    assert len(_cases(valid=False)) >= 10


def test_date_time_format_is_really_checked() -> None:
    # Without rfc3339-validator, jsonschema skips `format: date-time` without a word.
    assert "date-time" in FormatChecker().checkers, "pip install rfc3339-validator"


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.schema.json")), ids=lambda p: p.name)
def test_schema_is_valid_draft_2020_12(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("topic", TOPICS, ids=lambda p: p.name)
def test_topic_names_existing_schemas_and_examples(topic: Path) -> None:
    loaded = _topic(topic)
    assert loaded["topic"] == topic.stem
    assert {"description", "key", "compaction", "services", "schemas"} <= loaded.keys()
    assert loaded["key"]["field"] == "account_id"
    assert loaded["services"]["producers"]
    assert loaded["services"]["consumers"]
    for entry in loaded["schemas"]:
        assert (SCHEMAS / entry["resource"]).is_file(), entry["resource"]
        assert entry["resource"].endswith(f".v{entry['version']}.schema.json")
        for folder in entry["examples"]:
            assert (SCHEMAS / "examples" / folder).is_dir(), folder


def test_profiles_are_compacted_and_events_are_not() -> None:
    assert _topic(SCHEMAS / "topics" / "account-profiles.yaml")["compaction"] is True
    assert _topic(SCHEMAS / "topics" / "account-events.yaml")["compaction"] is False


def test_every_example_folder_belongs_to_a_topic() -> None:
    listed = {folder.rstrip("/") for _, entry in _versions() for folder in entry["examples"]}
    on_disk = {
        str(path.relative_to(SCHEMAS / "examples"))
        for path in (SCHEMAS / "examples").glob("*/*")
        if path.is_dir()
    }
    assert on_disk == listed


@pytest.mark.parametrize(("resource", "example"), _cases(valid=True))
def test_valid_example_validates(resource: str, example: Path) -> None:
    instance = json.loads(example.read_text(encoding="utf-8"))
    errors = [error.message for error in _validator(resource).iter_errors(instance)]
    assert errors == []


@pytest.mark.parametrize(("resource", "example"), _cases(valid=False))
def test_invalid_example_fails(resource: str, example: Path) -> None:
    expected = yaml.safe_load((example.parent / "expected.yaml").read_text(encoding="utf-8"))
    code = expected[example.name]["code"]
    if code == "invalid_json":
        with pytest.raises(ValueError):  # UnicodeDecodeError and JSONDecodeError alike
            json.loads(example.read_bytes().decode("utf-8"))
    else:
        assert code == "schema_violation"
        instance = json.loads(example.read_text(encoding="utf-8"))
        assert not _validator(resource).is_valid(instance)


@pytest.mark.parametrize(
    "sidecar", sorted((SCHEMAS / "examples").glob("*/*/invalid/expected.yaml")), ids=str
)
def test_every_invalid_example_has_an_expectation(sidecar: Path) -> None:
    expected = yaml.safe_load(sidecar.read_text(encoding="utf-8"))
    assert set(expected) == {path.name for path in sidecar.parent.glob("*.json")}
    for name, rejection in expected.items():
        assert rejection["code"] in {"invalid_json", "schema_violation"}, name
        assert isinstance(rejection["field"], str), name
