"""The native fast path (scoring/native/src/decode.rs) builds exactly the events the Python
decoder builds, and does carry the common case: a fast path that answered None for everything
would agree with everything, so the tests also count what it decoded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given

from scoring import _core
from scoring.decode import Rejection, event_from_mapping
from scoring.errors import DeadLetterCode
from scoring.messages import NO_PROPERTIES, Event
from tests.unit.scoring.decode_cases import (
    AGREEMENT,
    EVENT_EXAMPLES,
    EVENT_FIELDS,
    VALID_EVENTS,
    mutated,
)

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
