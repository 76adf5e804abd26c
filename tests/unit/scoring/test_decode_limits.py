"""What `scoring.decode` refuses beyond the schemas' field rules: tombstones and deep nesting."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from scoring.decode import (
    MAX_JSON_DEPTH,
    Rejection,
    decode_event,
    decode_profile,
    event_from_mapping,
    profile_from_mapping,
)
from scoring.errors import DeadLetterCode

EVENT = {
    "event_id": "e1",
    "type": "page_view",
    "occurred_at": "2026-01-01T00:00:00Z",
    "account_id": "acme",
}
PROFILE = {"account_id": "acme", "updated_at": "2026-01-01T00:00:00Z"}


def nested(levels: int) -> object:
    """`levels` arrays, one inside the other."""
    value: object = 1
    for _ in range(levels):
        value = [value]
    return value


def deep(body: dict[str, object], levels: int) -> bytes:
    """`body` as JSON with its `"deep": 0` made `levels` arrays deep (orjson writes at most 254)."""
    return orjson.dumps(body).replace(
        b'"deep":0', b'"deep":' + b"[" * levels + b"1" + b"]" * levels
    )


def test_a_tombstone_is_a_schema_violation() -> None:
    for result in (decode_event(None), decode_profile(None)):
        assert result == Rejection(DeadLetterCode.SCHEMA_VIOLATION, "$: a tombstone (null value)")


def test_nesting_up_to_the_limit_is_accepted_deeper_refused() -> None:
    deepest = {**EVENT, "extra": nested(MAX_JSON_DEPTH - 1)}  # the event itself is level 1
    assert not isinstance(decode_event(orjson.dumps(deepest)), Rejection)
    assert not isinstance(event_from_mapping(deepest), Rejection)
    too_deep = {**EVENT, "extra": nested(MAX_JSON_DEPTH)}
    refused = Rejection(
        DeadLetterCode.SCHEMA_VIOLATION, f"$: nested more than {MAX_JSON_DEPTH} levels deep"
    )
    assert decode_event(orjson.dumps(too_deep)) == refused
    assert event_from_mapping(too_deep) == refused
    assert decode_event(deep({**EVENT, "deep": 0}, 300)) == refused


def test_a_profile_nested_too_deep_is_refused_wherever_the_depth_is() -> None:
    owner = deep({**PROFILE, "owner": {"id": "o", "deep": 0}}, 300)
    unknown = deep({**PROFILE, "custom": {"deep": 0}}, MAX_JSON_DEPTH - 1)
    for profile in (owner, unknown):
        result = decode_profile(profile)
        assert isinstance(result, Rejection) and result.code is DeadLetterCode.SCHEMA_VIOLATION
        assert profile_from_mapping(orjson.loads(profile)) == result
    assert not isinstance(decode_profile(orjson.dumps({**PROFILE, "c": nested(126)})), Rejection)


def test_the_schemas_state_the_depth_limit() -> None:
    schemas = Path(__file__).resolve().parents[3] / "schemas"
    for name in ("behavioral-event.v1.schema.json", "account-profile.v1.schema.json"):
        described = json.loads((schemas / name).read_text())["description"]
        assert f"nest at most {MAX_JSON_DEPTH} levels deep" in described, name
