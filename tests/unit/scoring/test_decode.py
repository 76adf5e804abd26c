"""scoring.decode, the fast hand-written decoder, accepts exactly what the JSON Schemas accept.

The schemas are the contract other teams read; the decoder is what runs. Every example and many
generated mutations of them go through both, and both must give the same verdict.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from scoring import _core
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

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"
EVENT_EXAMPLES = SCHEMAS / "examples" / "behavioral-event" / "v1"
PROFILE_EXAMPLES = SCHEMAS / "examples" / "account-profile" / "v1"
NOON_UTC = parse_rfc3339("2026-11-23T12:00:00Z")


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    return loaded


EVENT_SCHEMA = _schema("behavioral-event.v1.schema.json")
PROFILE_SCHEMA = _schema("account-profile.v1.schema.json")
EVENT_VALIDATOR = Draft202012Validator(EVENT_SCHEMA, format_checker=FormatChecker())
PROFILE_VALIDATOR = Draft202012Validator(PROFILE_SCHEMA, format_checker=FormatChecker())


def _load(folder: Path) -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(folder.glob("*.json"))]


def _invalid(folder: Path) -> list[Any]:
    expected = yaml.safe_load((folder / "invalid" / "expected.yaml").read_text(encoding="utf-8"))
    return [
        pytest.param(folder / "invalid" / name, rule["code"], rule["field"], id=name)
        for name, rule in sorted(expected.items())
    ]


VALID_EVENTS = _load(EVENT_EXAMPLES)
VALID_PROFILES = _load(PROFILE_EXAMPLES)


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


# --- Hypothesis: mutations of the valid examples ----------------------------------------------

EVENT_FIELDS = ["event_id", "type", "occurred_at", "account_id", "domain", "contact_id"]
EVENT_FIELDS += ["properties"]
PROFILE_FIELDS = ["account_id", "updated_at", "name", "domains", "industry", "employees"]
PROFILE_FIELDS += ["annual_revenue", "country", "technologies", "owner", "customer"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),  # what orjson can write
    st.floats(allow_nan=False, allow_infinity=False),  # JSON has no NaN or Infinity
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
lengths = st.sampled_from([0, 1, 2, 63, 64, 65, 127, 128, 129, 253, 254, 300])
long_strings = st.builds(lambda n, c: c * n, lengths, st.sampled_from(["a", "é", "-", "A.", "9"]))


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """Mostly near-valid RFC 3339 strings: valid ones and single edits of the usual mistakes."""
    year = draw(st.sampled_from(["0999", "1000", "1970", "2024", "2026", "2027", "9999"]))
    month = draw(st.sampled_from(["00", "01", "02", "12", "13"]))
    day = draw(st.sampled_from(["00", "01", "28", "29", "30", "31", "32"]))
    time = draw(st.sampled_from(["00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60"]))
    fraction = draw(st.sampled_from(["", ".", ".5", ".123456", ".123456789", ".1234567890"]))
    offset = draw(st.sampled_from(["Z", "z", "", "+00:00", "-05:30", "+14:00", "+24:00", "+0200"]))
    separator = draw(st.sampled_from(["T", "T", "T", "t", " "]))
    tail = draw(st.sampled_from(["", "", "", "\n", " ", "x"]))
    return f"{year}-{month}-{day}{separator}{time}{fraction}{offset}{tail}"


@st.composite
def domains(draw: st.DrawFn) -> str:
    labels = st.from_regex(r"\A[A-Za-z0-9-]{0,64}\Z") | st.sampled_from(["acme", "XN--P1AI", "co"])
    name = ".".join(draw(st.lists(labels, min_size=1, max_size=4)))
    return draw(st.sampled_from(["", "", "", ".", "\n", " ", "/"])).join(["", name])


@st.composite
def event_types(draw: st.DrawFn) -> str:
    return draw(
        st.sampled_from(["page_view", "form_submit", "PageView", "9lives", "_x", "a" * 64])
        | st.from_regex(r"\A[a-zA-Z0-9_ -]{0,66}\n?\Z")
    )


def properties() -> st.SearchStrategy[object]:
    keys = st.text(max_size=10)
    flat = st.dictionaries(keys, scalars, max_size=70)
    many = st.integers(60, 70).map(lambda n: {f"p{i}": i for i in range(n)})
    return flat | many | st.dictionaries(keys, json_values, max_size=4) | json_values


def field_values(field: str) -> st.SearchStrategy[object]:
    """A value for `field`: often plausible (right or subtly wrong), sometimes anything at all."""
    ids = st.text(min_size=1, max_size=130) | long_strings
    plausible: dict[str, st.SearchStrategy[object]] = {
        "event_id": ids,
        "account_id": ids,
        "contact_id": ids,
        "occurred_at": timestamps(),
        "updated_at": timestamps(),
        "type": event_types(),
        "domain": domains(),
        "properties": properties(),
        "domains": st.lists(domains() | json_values, max_size=3),
        "technologies": st.lists(st.text(max_size=10) | json_values, max_size=3),
        "employees": st.integers(-2, 10**6) | st.floats(-1.0, 1e9) | st.booleans(),
        "annual_revenue": st.integers(-2, 10**9) | st.floats(-1.0, 1e12) | st.booleans(),
        "owner": st.dictionaries(st.sampled_from(["id", "name", "email", "slack", "x"]), scalars),
    }
    anything = long_strings | json_values
    return st.sampled_from([plausible.get(field, anything)] * 3 + [anything]).flatmap(lambda s: s)


@st.composite
def mutated(
    draw: st.DrawFn, bases: list[dict[str, Any]], fields: list[str], *, keyed_by_domain: bool
) -> object:
    """A valid example with one or two edits: drop, rename or re-value a field; or no object."""
    message = dict(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 2))):
        field = draw(st.sampled_from(fields))
        edit = draw(st.sampled_from(["drop", "rename", "value", "value", "value"]))
        if edit == "drop":
            message.pop(field, None)
        elif edit == "rename" and field in message:
            new_name = draw(st.sampled_from([field.upper(), field + " ", "x_" + field]))
            message[new_name] = message.pop(field)
        else:
            message[field] = draw(field_values(field))
    if keyed_by_domain and draw(st.integers(0, 3)) == 0:  # the account_id-or-domain rule
        message.pop("account_id", None)
        if draw(st.booleans()):
            message["domain"] = draw(domains())
    return draw(st.sampled_from([message] * 20 + [[message], 42, "x", None]))


def _outcome(result: Event | Profile | Rejection) -> str:
    """For --hypothesis-show-statistics: how often each verdict and field comes up."""
    if isinstance(result, Rejection):
        return "refused: " + result.detail.split(": ")[0].split(".")[0].split("[")[0]
    return "accepted"


AGREEMENT = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])


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


# --- the native fast path ---------------------------------------------------------------------

_native = _core.EventDecoder(Event, NO_PROPERTIES).decode
NativeDecode = Callable[[bytes], Event | None]


@dataclasses.dataclass
class FastPathTally:
    """How much the native decoder carried: of the valid events keyed by account (the case it
    exists for), how many it decoded itself instead of leaving them to Python."""

    plain: int = 0
    decoded: int = 0

    def assert_carries(self, share: float) -> None:
        assert self.plain > 0, "no valid event keyed by account was tried"
        assert self.decoded >= share * self.plain, (
            f"the native decoder decoded {self.decoded} of {self.plain} valid events keyed by "
            f"account, fewer than {share:.0%}: the fast path has stopped answering"
        )


def _same_event(native: Event, python: Event) -> bool:
    """Equal fields, and property values of the same types (1 and 1.0 and True are equal in
    Python but are not the same value to a consumer)."""
    fields = [f.name for f in dataclasses.fields(Event)]
    same = [getattr(native, f) for f in fields] == [getattr(python, f) for f in fields]
    return same and [type(v) for v in native.properties.values()] == [
        type(v) for v in python.properties.values()
    ]


def check_native(native_decode: NativeDecode, raw: bytes, tally: FastPathTally) -> None:
    """`raw` through the native decoder and the Python one: whenever the native one answers,
    Python accepts the message and builds the same event (when it answers None, the Python
    checks decide, as `decode_event` falls through). Counts into `tally`."""
    native = native_decode(raw)
    try:
        python = event_from_mapping(orjson.loads(raw))
    except orjson.JSONDecodeError:
        python = Rejection(DeadLetterCode.INVALID_JSON, "$")
    if isinstance(python, Event) and python.domain is None:
        tally.plain += 1
        tally.decoded += native is not None
    if native is None:
        return
    assert isinstance(python, Event), ("the native decoder vouched for", raw, python)
    assert _same_event(native, python), (raw, native, python)
    assert list(native.properties) == list(python.properties)


def plain_events() -> list[bytes]:
    """Valid events keyed by account, the common case: every example keyed by account, and
    each with the usual variations (ids at their limits, offsets and fractions, every kind of
    property value, unlisted fields)."""
    bases = [message for message in VALID_EVENTS if "domain" not in message]
    variations: list[dict[str, Any]] = [
        {},
        {"contact_id": ...},
        {"properties": ...},
        {"occurred_at": "2026-11-23T10:00:00.5+02:00"},
        {"occurred_at": "2024-02-29T23:59:59.123456789-05:30"},
        {"occurred_at": "2099-12-31T23:59:59Z"},
        {"event_id": "e" * 128, "account_id": "é" * 128, "contact_id": "c" * 128},
        {"type": "a" * 64},
        {"properties": {f"p{i}": i for i in range(64)}},
        {"properties": {"s": "x", "i": -3, "u": 2**64 - 1, "f": 0.1, "t": True, "e": 1e300}},
        {"source": "crm", "extra": [1, {"x": None}]},
    ]
    raws = []
    for base in bases:
        for change in variations:
            message = {key: value for key, value in (base | change).items() if value is not ...}
            raws.append(orjson.dumps(message))
    return raws


def test_the_native_decoder_decodes_the_common_events_as_python_does() -> None:
    tally = FastPathTally()
    for raw in plain_events():
        check_native(_native, raw, tally)
    assert tally.plain == len(plain_events())
    tally.assert_carries(share=0.95)


def test_the_native_decoder_vouches_for_no_invalid_example() -> None:
    tally = FastPathTally()
    for path in sorted((EVENT_EXAMPLES / "invalid").glob("*.json")):
        check_native(_native, path.read_bytes(), tally)
    assert tally.plain == 0


def test_native_decoder_agrees_with_python_on_generated_events() -> None:
    """Mutations of the examples: the native decoder builds what Python builds whenever it
    answers, and answers for most of the valid ones keyed by account (a fast path that answers
    nothing would agree with everything)."""
    tally = FastPathTally()

    @AGREEMENT
    @given(mutated(VALID_EVENTS, EVENT_FIELDS, keyed_by_domain=True))
    def agrees(message: object) -> None:
        check_native(_native, orjson.dumps(message), tally)

    agrees()
    assert tally.plain >= 20, tally  # about 1 in 7 mutations stays valid and keyed by account
    tally.assert_carries(share=0.8)


def test_the_agreement_check_fails_a_fast_path_that_answers_nothing() -> None:
    tally = FastPathTally()
    for raw in plain_events():
        check_native(lambda raw: None, raw, tally)
    with pytest.raises(AssertionError, match="the fast path has stopped answering"):
        tally.assert_carries(share=0.95)


def test_the_agreement_check_fails_a_fast_path_that_differs_or_vouches_wrongly() -> None:
    def shifted(raw: bytes) -> Event | None:
        event = _native(raw)
        return None if event is None else dataclasses.replace(event, occurred_at=0.0)

    def credulous(raw: bytes) -> Event | None:
        return Event("e", "t", 0.0, "a")

    raw = plain_events()[0]
    with pytest.raises(AssertionError):
        check_native(shifted, raw, FastPathTally())
    with pytest.raises(AssertionError, match="vouched"):
        check_native(
            credulous,
            (EVENT_EXAMPLES / "invalid" / "type-camel-case.json").read_bytes(),
            FastPathTally(),
        )


@pytest.mark.parametrize(
    "text",
    [
        '{"event_id":"e","type":"page_view","occurred_at":"2026-11-23T10:00:00Z","account_id":"a"}',
        ' { "event_id" : "e" , "type":"page_view",'
        '"occurred_at":"2026-11-23T10:00:00.1234567+02:00",'
        '"account_id":"a", "extra": [1, {"x": null}] } ',
        '{"event_id":"e","type":"t","occurred_at":"2024-02-29T23:59:59.999999999-05:30",'
        '"account_id":"\\u00e9\\n","contact_id":"c","properties":{"a":1,"b":1.0,"c":true,"d":"x",'
        '"e":-0,"f":18446744073709551615,"g":123456789012345678901234,"h":1e400,"a":2}}',
        '{"event_id":"e","type":"t","occurred_at":"2026-11-23T10:00:00Z","account_id":"a",'
        '"properties":{"n":-0.0,"m":0.1,"k":-9223372036854775809}}',
        '{"event_id":"e","type":"t","occurred_at":"2026-11-23T10:00:00Z","account_id":"a",'
        '"event_id":"f","properties":{}}',
        '{"event_id":"e","type":"t","occurred_at":"1000-01-01T00:00:00+23:59","account_id":"a"}',
        '{"event_id":"e","type":"t","occurred_at":"9999-12-31T23:59:59Z","account_id":"a"}',
        '{"event_id":"\\ud800","type":"t","occurred_at":"2026-11-23T10:00:00Z","account_id":"a"}',
        '\ufeff{"event_id":"e","type":"t","occurred_at":"2026-11-23T10:00:00Z","account_id":"a"}',
    ],
)
def test_native_decoder_on_json_edge_cases(text: str) -> None:
    check_native(_native, text.encode(), FastPathTally())


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
