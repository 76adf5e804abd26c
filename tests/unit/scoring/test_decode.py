"""scoring.decode, the fast hand-written decoder, accepts exactly what the JSON Schemas accept.

The schemas are the contract other teams read; the decoder is what runs. Every example and many
generated mutations of them go through both, and both must give the same verdict.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import event, given

from scoring.decode import (
    MAX_EVENT_BYTES,
    MAX_PROFILE_BYTES,
    Rejection,
    decode_event,
    decode_profile,
    event_from_mapping,
    profile_from_mapping,
    stored_profile,
)
from scoring.errors import DeadLetterCode
from scoring.messages import NO_PROPERTIES, Event, Profile
from scoring.timefmt import parse_rfc3339
from tests.unit.scoring.decode_cases import (
    AGREEMENT,
    EVENT_EXAMPLES,
    EVENT_FIELDS,
    EVENT_VALIDATOR,
    PROFILE_EXAMPLES,
    PROFILE_FIELDS,
    PROFILE_VALIDATOR,
    VALID_EVENTS,
    VALID_PROFILES,
    mutated,
)

NOON_UTC = parse_rfc3339("2026-11-23T12:00:00Z")


def _invalid(folder: Path) -> list[Any]:
    expected = yaml.safe_load((folder / "invalid" / "expected.yaml").read_text(encoding="utf-8"))
    return [
        pytest.param(folder / "invalid" / name, rule["code"], rule["field"], id=name)
        for name, rule in sorted(expected.items())
    ]


def _accepted(result: Event | Profile | Rejection) -> bool:
    return not isinstance(result, Rejection)


def _event(raw: bytes, **kwargs: Any) -> Event:
    result = decode_event(raw, **kwargs)
    assert isinstance(result, Event), result
    return result


def _rejection(result: Event | Profile | Rejection) -> Rejection:
    assert isinstance(result, Rejection), result
    return result


def _event_bytes(**fields: Any) -> bytes:
    """A valid event at noon UTC with `fields` changed; a field set to `...` is left out."""
    message: dict[str, Any] = {"event_id": "e-1", "type": "page_view", "account_id": "acme"}
    message["occurred_at"] = "2026-11-23T12:00:00Z"
    message.update(fields)
    return orjson.dumps({key: value for key, value in message.items() if value is not ...})


# --- the decoder and the schemas say the same thing ------------------------------------------


@pytest.mark.parametrize("message", VALID_EVENTS, ids=lambda m: m["event_id"])
def test_valid_event_examples_decode(message: dict[str, Any]) -> None:
    event = _event(orjson.dumps(message), now=NOON_UTC + 30 * 86_400.0)
    assert event.event_id == message["event_id"]
    assert event.type == message["type"]
    assert event.occurred_at == parse_rfc3339(message["occurred_at"])
    assert event.account_id == message.get("account_id")
    assert event.contact_id == message.get("contact_id")
    assert event.properties == message.get("properties", {})


@pytest.mark.parametrize("message", VALID_PROFILES, ids=lambda m: m["account_id"])
def test_valid_profile_examples_decode(message: dict[str, Any]) -> None:
    profile = decode_profile(orjson.dumps(message))
    assert isinstance(profile, Profile), profile
    assert profile.account_id == message["account_id"]
    assert profile.updated_at == parse_rfc3339(message["updated_at"])
    assert profile.fields.keys() == message.keys()


@pytest.mark.parametrize(("path", "code", "field"), _invalid(EVENT_EXAMPLES))
def test_invalid_event_examples_are_refused_naming_the_field(
    path: Path, code: str, field: str
) -> None:
    rejection = _rejection(decode_event(path.read_bytes()))
    assert (rejection.code, rejection.detail.split(": ")[0]) == (code, field)


@pytest.mark.parametrize(("path", "code", "field"), _invalid(PROFILE_EXAMPLES))
def test_invalid_profile_examples_are_refused_naming_the_field(
    path: Path, code: str, field: str
) -> None:
    rejection = _rejection(decode_profile(path.read_bytes()))
    assert (rejection.code, rejection.detail.split(": ")[0]) == (code, field)


def _outcome(result: Event | Profile | Rejection) -> str:
    """For --hypothesis-show-statistics: how often each verdict and field comes up."""
    if isinstance(result, Rejection):
        return "refused: " + result.detail.split(": ")[0].split(".")[0].split("[")[0]
    return "accepted"


@AGREEMENT
@given(mutated(VALID_EVENTS, EVENT_FIELDS, keyed_by_domain=True))
def test_event_decoder_agrees_with_schema(message: object) -> None:
    schema_says = EVENT_VALIDATOR.is_valid(message)
    result = event_from_mapping(message)
    event(_outcome(result))
    assert _accepted(result) == schema_says, result
    raw = orjson.dumps(message)
    if len(raw) <= MAX_EVENT_BYTES:
        assert _accepted(decode_event(raw)) == schema_says
    if isinstance(result, Rejection):
        assert result.code == "schema_violation"
    else:
        assert isinstance(message, dict)
        assert result.occurred_at == parse_rfc3339(message["occurred_at"])
        assert result.domain == (message["domain"].lower() if "domain" in message else None)
        assert result.properties == message.get("properties", {})


@AGREEMENT
@given(mutated(VALID_PROFILES, PROFILE_FIELDS, keyed_by_domain=False))
def test_profile_decoder_agrees_with_schema(message: object) -> None:
    schema_says = PROFILE_VALIDATOR.is_valid(message)
    result = profile_from_mapping(message)
    event(_outcome(result))
    assert _accepted(result) == schema_says, result
    assert _accepted(decode_profile(orjson.dumps(message))) == schema_says


# --- each rejection code, and the contract around it ------------------------------------------


def test_invalid_json_for_bytes_that_are_not_utf8_json() -> None:
    for raw in [b"", b"{", b"\xff\xfe{}", b'{"a": NaN}', b"\xef\xbb\xbf{}"]:
        rejection = _rejection(decode_event(raw))
        assert rejection.code == "invalid_json"
        assert rejection.detail.startswith("$: ")


def test_json_that_is_not_an_object_is_a_schema_violation() -> None:
    for raw in [b"[]", b"42", b'"event"', b"null"]:
        assert _rejection(decode_event(raw)) == Rejection(
            DeadLetterCode.SCHEMA_VIOLATION, "$: must be a JSON object"
        )
        assert _rejection(decode_profile(raw)).code == "schema_violation"


def test_too_large_from_64_kib_plus_one_without_parsing() -> None:
    padding = MAX_EVENT_BYTES - len(_event_bytes(pad=""))
    assert len(_event_bytes(pad="x" * padding)) == MAX_EVENT_BYTES
    assert _accepted(decode_event(_event_bytes(pad="x" * padding)))
    too_large = _rejection(decode_event(_event_bytes(pad="x" * (padding + 1))))
    assert too_large.code == "too_large"
    assert _rejection(decode_event(b"{" * (MAX_EVENT_BYTES + 1))).code == "too_large"
    assert _rejection(decode_profile(b" " * (MAX_PROFILE_BYTES + 1))).code == "too_large"


def test_future_timestamp_beyond_now_plus_skew() -> None:
    raw = _event_bytes(occurred_at="2026-11-23T12:05:00Z")
    assert _event(raw, now=NOON_UTC).occurred_at == NOON_UTC + 300.0  # exactly now + skew
    assert _event(raw, now=NOON_UTC - 60.0, max_future_skew=360.0)
    assert _event(raw)  # now=None: offline replay, no wall clock
    late = _rejection(decode_event(raw, now=NOON_UTC - 0.001))
    assert late == Rejection(
        DeadLetterCode.FUTURE_TIMESTAMP, "occurred_at: more than 300 s ahead of the wall clock"
    )
    assert _rejection(decode_event(raw, now=NOON_UTC, max_future_skew=299.5)).code == (
        "future_timestamp"
    )


def test_schema_violation_beats_future_timestamp() -> None:
    raw = _event_bytes(occurred_at="2099-01-01T00:00:00Z", type="Bad Type")
    assert _rejection(decode_event(raw, now=NOON_UTC)).code == "schema_violation"


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-23T12:00:00Z", "2026-11-23T12:00:00Z"),
        ("2026-11-23T14:00:00+02:00", "2026-11-23T12:00:00Z"),
        ("2026-11-23T06:30:00-05:30", "2026-11-23T12:00:00Z"),
        ("2026-11-24T01:00:00+13:00", "2026-11-23T12:00:00Z"),
        ("2026-11-23T12:00:00.250-00:00", "2026-11-23T12:00:00.25Z"),
    ],
)
def test_timestamps_with_offsets_become_utc_epoch_seconds(text: str, utc: str) -> None:
    expected = parse_rfc3339(utc)
    assert _event(_event_bytes(occurred_at=text)).occurred_at == expected
    assert expected == NOON_UTC + (0.25 if ".25" in utc else 0.0)


def test_domain_is_lower_cased_and_stands_in_for_account_id() -> None:
    event = _event(_event_bytes(account_id=..., domain="Sales.ACME-Robotics.COM"))
    assert (event.account_id, event.domain) == (None, "sales.acme-robotics.com")
    profile = decode_profile(
        b'{"account_id": "a", "updated_at": "2026-11-23T12:00:00Z", "domains": ["ACME.com"]}'
    )
    assert isinstance(profile, Profile)
    assert profile.fields["domains"] == ["acme.com"]


def test_missing_account_and_domain_names_the_rule() -> None:
    rejection = _rejection(decode_event(_event_bytes(account_id=...)))
    assert rejection.detail == "account_id: is required unless domain is given"


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        ({"event_id": ...}, "event_id: is required"),
        ({"occurred_at": "2026-11-23T12:00:00"}, "occurred_at: must be an RFC 3339"),
        ({"type": 7}, "type: must be a lower-case name"),
        ({"properties": {"deep": {"a": 1}}}, "properties.deep: must be a string, number"),
        ({"properties": {"k" * 500: None}}, "properties." + "k" * 61 + "...: must be"),
        ({"properties": {"a\nb": None}}, "properties.'a\\nb': must be"),
    ],
)
def test_detail_names_the_field_and_the_rule(fields: dict[str, Any], detail: str) -> None:
    assert _rejection(decode_event(_event_bytes(**fields))).detail.startswith(detail)


def test_booleans_are_not_numbers_where_numbers_are_required() -> None:
    raw = b'{"account_id": "a", "updated_at": "2026-11-23T12:00:00Z", "employees": true}'
    assert _rejection(decode_profile(raw)) == Rejection(
        DeadLetterCode.SCHEMA_VIOLATION, "employees: must be a number or null"
    )
    event = _event(_event_bytes(properties={"gated": True, "n": 2, "x": 0.5, "s": "t"}))
    assert event.properties == {"gated": True, "n": 2, "x": 0.5, "s": "t"}


def test_non_finite_numbers_from_a_mapping_are_refused() -> None:
    message = json.loads(_event_bytes(properties={"score": 1.0}))
    message["properties"]["score"] = float("nan")
    assert _rejection(event_from_mapping(message)).detail == (
        "properties.score: must be a finite number"
    )
    profile = {"account_id": "a", "updated_at": "2026-11-23T12:00:00Z", "employees": float("inf")}
    assert _rejection(profile_from_mapping(profile)).code == "schema_violation"


def test_huge_integers_from_a_mapping_are_numbers_like_any_other() -> None:
    huge = 10**400  # json.loads makes an int of it; a float would overflow
    profile = {"account_id": "a", "updated_at": "2026-11-23T12:00:00Z", "employees": huge}
    assert isinstance(profile_from_mapping(profile), Profile)
    assert PROFILE_VALIDATOR.is_valid(profile)
    message = json.loads(_event_bytes())
    message["properties"] = {"n": huge, 7: None}
    assert _rejection(event_from_mapping(message)).detail.startswith("properties.7: must be")


def test_event_owns_its_properties() -> None:
    message = json.loads(_event_bytes(properties={"url": "/pricing"}))
    event = event_from_mapping(message)
    message["properties"]["url"] = "/careers"
    assert isinstance(event, Event)
    assert event.properties == {"url": "/pricing"}
    assert _event(_event_bytes()).properties is NO_PROPERTIES


def test_profile_keeps_every_field_for_dotted_paths() -> None:
    raw = (PROFILE_EXAMPLES / "customer-expansion.json").read_bytes()
    profile = decode_profile(raw)
    assert isinstance(profile, Profile)
    assert profile.fields == json.loads(raw)
    assert profile.updated_at == parse_rfc3339("2026-11-18T15:45:00Z")


def test_properties_are_copied_from_a_mapping_only() -> None:
    """`event_from_mapping` leaves the caller's object free to reuse; `decode_event` owns the
    object it parsed and keeps its properties as they are."""
    message = orjson.loads(_event_bytes(properties={"url": "/pricing"}))
    from_mapping = event_from_mapping(message)
    assert isinstance(from_mapping, Event)
    assert from_mapping.properties == message["properties"]
    assert from_mapping.properties is not message["properties"]
    assert _event(_event_bytes(properties={"url": "/pricing"})).properties == {"url": "/pricing"}


@AGREEMENT
@given(mutated(VALID_PROFILES, PROFILE_FIELDS, keyed_by_domain=False))
def test_a_stored_profile_reads_back_as_decode_profile_made_it(message: object) -> None:
    raw = orjson.dumps(message)
    decoded = decode_profile(raw)
    if isinstance(decoded, Profile):
        assert stored_profile(raw) == decoded


def test_bytes_that_are_no_stored_profile_read_as_none() -> None:
    for raw in (b"", b"[1]", b'{"account_id": 5, "updated_at": "2026-11-23T10:00:00Z"}', b"{}"):
        assert stored_profile(raw) is None
