"""The JSON Schemas in schemas/ are the contract; the decoders keep copies of their rules.

`scoring.decode` (Python) and `scoring/native/src/*.rs` (the native fast path) cannot read the
schemas on the hot path, so they hold the limits, patterns and enums as constants. This test reads
the schemas and fails when any copy drifts: the Python constants compared directly, the Rust ones
read from the source with a regex, the dead-letter codes and the loader's model ids and kinds
against the schemas that publish them. Then every field of each schema goes through both decoders
with values chosen from its own constraints (types, lengths, patterns, limits), so a field, a
required key or a limit the decoders forgot also fails, with jsonschema as the judge.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator, FormatChecker

from scoring import _core, decode
from scoring.decode import Rejection, event_from_mapping, profile_from_mapping
from scoring.errors import DeadLetterCode
from scoring.loader import rules as model_rules
from scoring.messages import NO_PROPERTIES, Event

ROOT = Path(__file__).resolve().parents[3]
SCHEMAS = ROOT / "schemas"
NATIVE_SOURCES = sorted((ROOT / "scoring" / "native" / "src").rglob("*.rs"))


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


def _example(path: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / "examples" / path).read_text(encoding="utf-8"))
    return loaded


EVENT_SCHEMA = _schema("behavioral-event.v1.schema.json")
PROFILE_SCHEMA = _schema("account-profile.v1.schema.json")
DEAD_LETTER_SCHEMA = _schema("dead-letter.v1.schema.json")
SCORE_CHANGE_SCHEMA = _schema("score-change.v1.schema.json")
EVENT = EVENT_SCHEMA["properties"]
PROFILE = PROFILE_SCHEMA["properties"]
EVENT_VALIDATOR = Draft202012Validator(EVENT_SCHEMA, format_checker=FormatChecker())
PROFILE_VALIDATOR = Draft202012Validator(PROFILE_SCHEMA, format_checker=FormatChecker())

_UNITS = {"bytes": 1, "kib": 1024, "mib": 1024 * 1024}


def stated_size(description: str) -> int:
    """The message size limit a schema states in words: `at most 64 KiB` -> 65536."""
    found = re.search(r"at most (\d+) (bytes|KiB|MiB)", description, re.IGNORECASE)
    assert found, f"no size limit stated in: {description!r}"
    return int(found[1]) * _UNITS[found[2].lower()]


def longest_match(pattern: str) -> int:
    """The longest string `^[a-z][a-z0-9_]{0,63}$(?!\\n)` matches: one character class, then a
    repeated class."""
    found = re.fullmatch(r"\^\[[^\]]+\]\[[^\]]+\]\{0,(\d+)\}\$\(\?!\\n\)", pattern)
    assert found, f"not a [first][rest]{{0,n}} pattern: {pattern}"
    return 1 + int(found[1])


def rust_constants() -> dict[str, int]:
    """`const NAME: usize = 65_536;` of every native source file, each name defined once."""
    found: dict[str, int] = {}
    for path in NATIVE_SOURCES:
        source = path.read_text(encoding="utf-8")
        for name, value in re.findall(r"\bconst\s+(\w+)\s*:\s*usize\s*=\s*([0-9_]+)\s*;", source):
            assert name not in found, f"{name} is defined twice in the native sources"
            found[name] = int(value.replace("_", ""))
    return found


# --- the constants --------------------------------------------------------------------------


def test_id_lengths() -> None:
    for field in ("event_id", "account_id", "contact_id"):
        assert (EVENT[field]["minLength"], EVENT[field]["maxLength"]) == (1, decode.MAX_ID_LENGTH)
    assert (PROFILE["account_id"]["minLength"], PROFILE["account_id"]["maxLength"]) == (
        1,
        decode.MAX_ID_LENGTH,
    )
    assert SCORE_CHANGE_SCHEMA["properties"]["account_id"]["maxLength"] == decode.MAX_ID_LENGTH


def test_domain_length_and_pattern() -> None:
    for field in (EVENT["domain"], PROFILE["domains"]["items"]):
        assert field["maxLength"] == decode.MAX_DOMAIN_LENGTH
        assert field["pattern"] == decode.DOMAIN_PATTERN


def test_type_and_timestamp_patterns() -> None:
    assert EVENT["type"]["pattern"] == decode.TYPE_PATTERN
    assert EVENT["occurred_at"]["pattern"] == decode.TIMESTAMP_PATTERN
    assert PROFILE["updated_at"]["pattern"] == decode.TIMESTAMP_PATTERN


def test_property_limit() -> None:
    assert EVENT["properties"]["maxProperties"] == decode.MAX_PROPERTIES


def test_message_size_limits() -> None:
    assert stated_size(EVENT_SCHEMA["description"]) == decode.MAX_EVENT_BYTES
    assert stated_size(PROFILE_SCHEMA["description"]) == decode.MAX_PROFILE_BYTES
    too_large = DEAD_LETTER_SCHEMA["properties"]["scorer.error.code"]["description"]
    assert re.search(r"too_large: over (\d+ KiB)", too_large)
    assert stated_size(re.sub(r"over (\d+ KiB)", r"at most \1", too_large)) == (
        decode.MAX_EVENT_BYTES
    )


def test_the_native_decoder_constants() -> None:
    constants = rust_constants()
    assert {
        name: constants.get(name)
        for name in ("MAX_EVENT_BYTES", "MAX_ID_LENGTH", "MAX_PROPERTIES", "MAX_TYPE_LENGTH")
    } == {
        "MAX_EVENT_BYTES": stated_size(EVENT_SCHEMA["description"]),
        "MAX_ID_LENGTH": EVENT["event_id"]["maxLength"],
        "MAX_PROPERTIES": EVENT["properties"]["maxProperties"],
        "MAX_TYPE_LENGTH": longest_match(EVENT["type"]["pattern"]),
    }


def test_the_helpers_read_what_they_claim() -> None:
    assert stated_size("The whole message is at most 64 KiB (65536 bytes).") == 65_536
    assert stated_size("At most 1 MiB of UTF-8 JSON") == 1_048_576
    assert longest_match(r"^[a-z][a-z0-9_]{0,63}$(?!\n)") == 64
    with pytest.raises(AssertionError):
        stated_size("no limit here")


def test_dead_letter_codes_are_the_schemas_enum() -> None:
    enum = DEAD_LETTER_SCHEMA["properties"]["scorer.error.code"]["enum"]
    assert [code.value for code in DeadLetterCode] == enum
    described = DEAD_LETTER_SCHEMA["properties"]["scorer.error.code"]["description"]
    assert re.findall(r"\b([a-z_]+): ", described) == enum


def test_every_expected_rejection_is_a_dead_letter_code() -> None:
    for sidecar in sorted((SCHEMAS / "examples").glob("*/*/invalid/expected.yaml")):
        codes = re.findall(r"code: (\w+)", sidecar.read_text(encoding="utf-8"))
        assert codes
        assert set(codes) <= set(DeadLetterCode), sidecar


def test_model_ids_and_kinds_are_what_score_changes_publish() -> None:
    published = SCORE_CHANGE_SCHEMA["properties"]
    assert published["model"]["pattern"] == f"^{model_rules.MODEL_ID.pattern}$"
    contributions = json.dumps(SCORE_CHANGE_SCHEMA)
    kinds = re.search(r'"kind": \{"enum": (\[[^\]]*\])\}', contributions)
    assert kinds, "no kind enum in the score-change schema"
    assert tuple(json.loads(kinds[1])) == model_rules.KINDS
    assert model_rules.EVENT_TYPE.pattern == EVENT["type"]["pattern"]


# --- every field, with values drawn from its own constraints ---------------------------------

_ANY = [None, True, False, 0, -1, 2.5, 1e300, "x", "", "X Y", [], ["x"], [1], {}, {"k": "v"}]
_TIMESTAMPS = [
    "2026-11-23T10:00:00Z",
    "2026-11-23T10:00:00.123456789+05:30",
    "2026-02-30T10:00:00Z",
    "2026-11-23T10:00:00",
    "2026-11-23 10:00:00Z",
    "2026-11-23T10:00:00.1234567890Z",
    "0999-12-31T23:59:59Z",
    "2026-11-23T10:00:00Z\n",
]


def _dns_name(length: int) -> str:
    """A DNS name of `length` characters made of labels of at most 63."""
    labels, left = [], length
    while left > 64:
        labels.append("a" * 63)
        left -= 64
    return ".".join([*labels, "b" * left]) if labels else "a." + "b" * (length - 2)


def candidates(rule: dict[str, Any], example: object) -> list[object]:
    """Values for a field with schema `rule`: anything of every JSON type, then values at and
    just past each of its own limits, around its pattern and its format."""
    values: list[object] = [*_ANY]
    if isinstance(example, str):
        values += [example, example.upper(), example + "\n", " " + example]
    if "maxLength" in rule:
        n = rule["maxLength"]
        values += ["a" * n, "a" * (n + 1), "é" * n, "é" * (n + 1)]
        if "pattern" in rule:
            values += [_dns_name(n), _dns_name(n + 1)]
    if "pattern" in rule and "maxLength" not in rule and "{0," in rule["pattern"]:
        n = longest_match(rule["pattern"])
        values += ["a" * n, "a" * (n + 1), "a_" + "1" * (n - 2), "9" + "a" * (n - 1)]
    if rule.get("format") == "date-time":
        values += _TIMESTAMPS
    if "maxProperties" in rule:
        n = rule["maxProperties"]
        values += [{f"p{i}": i for i in range(n)}, {f"p{i}": i for i in range(n + 1)}]
    if isinstance(rule.get("additionalProperties"), dict):
        values += [{"k": value} for value in _ANY] + [{"k": float("1e308"), "n": -0.0}]
    if "items" in rule:
        inner = candidates(rule["items"], example[0] if isinstance(example, list) else None)
        values += [[value] for value in inner]
    for key, inner_rule in rule.get("properties", {}).items():
        values += [{key: value} for value in candidates(inner_rule, None)]
    return values


def variants(base_name: str, field: str, rule: dict[str, Any]) -> list[dict[str, Any]]:
    """The example `base_name` without `field`, and with each candidate value in it."""
    base = _example(base_name)
    dropped = {key: value for key, value in base.items() if key != field}
    return [dropped] + [base | {field: value} for value in candidates(rule, base.get(field))]


def _fields(schema: dict[str, Any], bases: list[str]) -> list[Any]:
    """(base example, field, its rule) for every field of `schema`, and for one it does not
    list (allowed and ignored)."""
    unlisted = {"type": ["array", "object"]}
    return [
        pytest.param(base, field, rule, id=f"{base.split('/')[-1]}:{field}")
        for base in bases
        for field, rule in [*schema["properties"].items(), ("x_unlisted", unlisted)]
    ]


EVENT_BASES = ["behavioral-event/v1/page-view.json", "behavioral-event/v1/page-view-by-domain.json"]
PROFILE_BASES = ["account-profile/v1/full.json", "account-profile/v1/minimal.json"]
_native_event = _core.EventDecoder(Event, NO_PROPERTIES).decode


def _names(detail: str) -> str:
    """The field a rejection's detail names: `domains[0]: ...` -> domains."""
    return re.split(r"[.\[]", detail.split(": ")[0])[0]


def _judged(valid: bool, result: object, field: str, message: object) -> None:
    if valid:
        assert not isinstance(result, Rejection), (message, result)
        return
    assert isinstance(result, Rejection), ("the schema refuses it, the decoder accepts it", message)
    assert result.code == DeadLetterCode.SCHEMA_VIOLATION, (message, result)
    # An event with neither account_id nor domain names account_id whichever was dropped.
    assert _names(result.detail) in (field, "account_id"), (message, result)


@pytest.mark.parametrize(("base", "field", "rule"), _fields(EVENT_SCHEMA, EVENT_BASES))
def test_each_event_field_is_judged_as_the_schema_judges_it(
    base: str, field: str, rule: dict[str, Any]
) -> None:
    for message in variants(base, field, rule):
        valid = EVENT_VALIDATOR.is_valid(message)
        python = event_from_mapping(message)
        _judged(valid, python, field, message)
        try:
            raw = orjson.dumps(message)
        except orjson.JSONEncodeError:
            continue  # no JSON for it: the bytes path never sees such a message
        _judged(valid, decode.decode_event(raw), field, message)
        native = _native_event(raw)
        if native is not None:
            assert valid, ("the native decoder vouches for what the schema refuses", message)
            assert native == python, message


@pytest.mark.parametrize(("base", "field", "rule"), _fields(PROFILE_SCHEMA, PROFILE_BASES))
def test_each_profile_field_is_judged_as_the_schema_judges_it(
    base: str, field: str, rule: dict[str, Any]
) -> None:
    for message in variants(base, field, rule):
        valid = PROFILE_VALIDATOR.is_valid(message)
        _judged(valid, profile_from_mapping(message), field, message)
        _judged(valid, decode.decode_profile(orjson.dumps(message)), field, message)
