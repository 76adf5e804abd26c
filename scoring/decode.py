"""Wire bytes -> `Event` / `Profile`, or a `Rejection` saying why (the dead-letter reason).

The checks here are a hand-written copy of `schemas/behavioral-event.v1.schema.json` and
`schemas/account-profile.v1.schema.json`, compiled once at import: jsonschema is far too slow for
the hot path and is used only by the tests. The limits and patterns below are constants rather
than read from the schemas because the schemas are the contract other teams read at the top of
the repository, not data of this package, and the native decoder needs the same numbers at
compile time anyway; tests/unit/schemas/test_schema_drift.py fails when any copy (Python or Rust)
differs from the schemas, and tests/unit/scoring/test_decode.py proves on generated messages that
this module accepts exactly what the schemas accept.

Contract:
- Errors are values: every public function returns a `Rejection` instead of raising.
- `too_large`: more bytes than the limit, refused before parsing.
- `invalid_json`: bytes that are not UTF-8 JSON (orjson also refuses a BOM, lone surrogates, numbers
  beyond a double and nesting deeper than 1024).
- `schema_violation`: JSON that parsed but breaks the schema, including JSON that is not an object
  (`[1]`, `42`): the bytes are well-formed, the message is not, and the schema says so. Also a
  tombstone (a Kafka message whose value is null: `raw` None), and JSON nested more than
  `MAX_JSON_DEPTH` levels deep anywhere, unknown fields included (the schemas state the limit:
  orjson writes at most 254 levels, and a re-routed event or a score change carrying a profile's
  `owner` is written again).
- `future_timestamp`: a valid event more than `max_future_skew` seconds ahead of `now`.
- `detail` names the field and the rule (`occurred_at: must be an RFC 3339 date-time with offset`)
  and never echoes a value, so it is safe for dead-letter headers and logs.
- Numbers must be finite: JSON cannot carry NaN or Infinity, but a mapping built by other means can.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

import orjson

from scoring import _core
from scoring.errors import DeadLetterCode
from scoring.messages import NO_PROPERTIES, Event, Profile
from scoring.model import PropertyValue
from scoring.timefmt import InvalidTimestamp, parse_rfc3339

MAX_EVENT_BYTES = 65_536
MAX_PROFILE_BYTES = 1_048_576  # Kafka's default message.max.bytes: nothing larger can arrive
MAX_PROPERTIES = 64
MAX_ID_LENGTH = 128
MAX_DOMAIN_LENGTH = 253
MAX_JSON_DEPTH = 128  # objects and arrays, the message itself counting 1; serde_json's limit too
DEFAULT_MAX_FUTURE_SKEW = 300.0

# The schemas' patterns, verbatim. Each ends in `$(?!\n)`: Python's `$` also matches before a
# final newline, ECMA-262's does not; the look-ahead makes both mean "end".
TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$(?!\n)"
TIMESTAMP_PATTERN = (
    r"^[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$(?!\n)"
)
DOMAIN_PATTERN = (
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$(?!\n)"
)

_is_type = re.compile(TYPE_PATTERN).match
_is_timestamp = re.compile(TIMESTAMP_PATTERN).match
_is_domain = re.compile(DOMAIN_PATTERN).match

# bool is an int subclass, so this admits booleans too, as the schema's property values do.
_SCALARS = (str, int, float)
_PLAIN_SCALARS = frozenset((str, int, bool))  # accepted on sight; floats need a finiteness test
_PROFILE_STRINGS = ("name", "industry", "country")
_PROFILE_AMOUNTS = ("employees", "annual_revenue")
_OWNER_STRINGS = ("id", "name", "email", "slack")
_MAX_NAME_IN_DETAIL = 64

# The common case, natively: a plainly valid event keyed by account, or None when the native
# decoder cannot vouch for the message and the checks below decide (scoring/native/src/decode.rs).
_native_event = _core.EventDecoder(Event, NO_PROPERTIES).decode

# Event types already seen valid: a set lookup costs a fifth of the pattern match, and a stream
# has a few dozen types. Bounded, so a flood of distinct names cannot grow it; what it holds never
# changes a result, only how fast it comes.
_valid_types: set[str] = set()
_MAX_REMEMBERED_TYPES = 1024


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message was refused: `code` for metrics and routing, `detail` for people."""

    code: DeadLetterCode
    detail: str


class _Violation(Exception):
    """A broken schema rule, raised by the field checks; never leaves this module."""


# A message with a null value: Kafka's delete marker, which neither input topic has a use for.
_TOMBSTONE = Rejection(DeadLetterCode.SCHEMA_VIOLATION, "$: a tombstone (null value)")


def decode_event(
    raw: bytes | None, *, now: float | None = None, max_future_skew: float = DEFAULT_MAX_FUTURE_SKEW
) -> Event | Rejection:
    """Decode one `account-events` message (None: a tombstone).

    `now` is the wall clock in epoch seconds, passed in so that scoring never reads it; None skips
    the future check (offline replay). An `occurred_at` later than `now + max_future_skew` is a
    `future_timestamp`; exactly `now + max_future_skew` is accepted.
    """
    if raw is None:
        return _TOMBSTONE
    event = _native_event(raw)
    if event is not None:
        return _in_time(event, now, max_future_skew)
    if len(raw) > MAX_EVENT_BYTES:
        return _too_large(len(raw), MAX_EVENT_BYTES)
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        return Rejection(DeadLetterCode.INVALID_JSON, f"$: not UTF-8 JSON ({err})")
    # `obj` is ours alone, so the event may keep its `properties` without a copy.
    return _checked_event(obj, now, max_future_skew, copy_properties=False)


def event_from_mapping(
    obj: object, *, now: float | None = None, max_future_skew: float = DEFAULT_MAX_FUTURE_SKEW
) -> Event | Rejection:
    """`decode_event` on an already-parsed JSON value (replay reads JSON lines); no size check.

    The returned event holds a copy of `properties`, so the caller may reuse `obj`.
    """
    return _checked_event(obj, now, max_future_skew, copy_properties=True)


def _checked_event(
    obj: object, now: float | None, max_future_skew: float, *, copy_properties: bool
) -> Event | Rejection:
    try:
        event = _event(obj, copy_properties)
    except _Violation as violation:
        return Rejection(DeadLetterCode.SCHEMA_VIOLATION, str(violation))
    return _in_time(event, now, max_future_skew)


def _in_time(event: Event, now: float | None, max_future_skew: float) -> Event | Rejection:
    """The event, or `future_timestamp` when it is more than the skew ahead of `now`."""
    if now is not None and event.occurred_at > now + max_future_skew:
        return Rejection(
            DeadLetterCode.FUTURE_TIMESTAMP,
            f"occurred_at: more than {max_future_skew:g} s ahead of the wall clock",
        )
    return event


def decode_profile(raw: bytes | None) -> Profile | Rejection:
    """Decode one `account-profiles` message (at most `MAX_PROFILE_BYTES`; None: a tombstone)."""
    if raw is None:
        return _TOMBSTONE
    if len(raw) > MAX_PROFILE_BYTES:
        return _too_large(len(raw), MAX_PROFILE_BYTES)
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as err:
        return Rejection(DeadLetterCode.INVALID_JSON, f"$: not UTF-8 JSON ({err})")
    return profile_from_mapping(obj)


def profile_from_mapping(obj: object) -> Profile | Rejection:
    """`decode_profile` on an already-parsed JSON value; no size check.

    `Profile.fields` is a shallow copy of `obj` with `domains` lower-cased; nested objects and
    lists other than `domains` are shared with `obj`.
    """
    try:
        return _profile(obj)
    except _Violation as violation:
        return Rejection(DeadLetterCode.SCHEMA_VIOLATION, str(violation))


def stored_profile(raw: bytes) -> Profile | None:
    """A profile that `decode_profile` accepted earlier and the pipeline stored as it came,
    read back without checking it again: the same `Profile` for a fraction of the cost (an
    account read happens on every cache miss and for every account rescored). None when the
    bytes are not such a profile after all.
    """
    try:
        obj = orjson.loads(raw)
        account_id, updated_at = obj["account_id"], parse_rfc3339(obj["updated_at"])
    except (orjson.JSONDecodeError, TypeError, KeyError, InvalidTimestamp):
        return None
    if not isinstance(account_id, str):
        return None
    domains = obj.get("domains")  # obj is a fresh dict of its own: no copy needed
    if isinstance(domains, list):
        obj["domains"] = [d.lower() if isinstance(d, str) else d for d in domains]
    return Profile(account_id, updated_at, obj)


def _nested_within(obj: dict[str, Any], limit: int) -> bool:
    """Whether the objects and arrays of `obj` nest at most `limit` levels (`obj` counting 1)."""
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(obj, 1)]
    while stack:
        item, level = stack.pop()
        for child in item.values() if isinstance(item, dict) else item:
            if isinstance(child, dict | list):
                if level == limit:
                    return False
                stack.append((child, level + 1))
    return True


def _check_depth(obj: dict[str, Any]) -> None:
    if not _nested_within(obj, MAX_JSON_DEPTH):
        raise _Violation(f"$: nested more than {MAX_JSON_DEPTH} levels deep")


def _too_large(size: int, limit: int) -> Rejection:
    return Rejection(DeadLetterCode.TOO_LARGE, f"$: {size} bytes, more than the {limit} allowed")


def _event(obj: object, copy_properties: bool) -> Event:
    """The schema checks of behavioral-event.v1, in field order; raises `_Violation`.

    Hot path: the common case (fields present and valid) costs one dict lookup, one type test and
    at most one pattern match per field; the helpers are entered only for the rarer branches.
    """
    if not isinstance(obj, dict):
        raise _Violation("$: must be a JSON object")
    _check_depth(obj)
    get = obj.get
    event_id = get("event_id")
    if type(event_id) is not str or not 0 < len(event_id) <= MAX_ID_LENGTH:
        event_id = _required_string(obj, "event_id")
    event_type = get("type")
    if type(event_type) is not str or event_type not in _valid_types:
        event_type = _event_type(obj)
    occurred_at = _timestamp(obj, "occurred_at")
    account_id = get("account_id")
    if type(account_id) is not str or not 0 < len(account_id) <= MAX_ID_LENGTH:
        account_id = _optional_string(obj, "account_id")
    domain = _optional_domain(obj) if "domain" in obj else None
    if account_id is None and domain is None:
        raise _Violation("account_id: is required unless domain is given")
    contact_id = get("contact_id")
    if type(contact_id) is not str or not 0 < len(contact_id) <= MAX_ID_LENGTH:
        contact_id = _optional_string(obj, "contact_id")
    return Event(
        event_id,
        event_type,
        occurred_at,
        account_id,
        domain,
        contact_id,
        _properties(obj, copy_properties),
    )


def _event_type(obj: dict[str, Any]) -> str:
    """`type` checked against its pattern, and remembered when valid (see `_valid_types`)."""
    value = obj.get("type")
    if not isinstance(value, str) or not _is_type(value):
        raise _Violation(
            _absent_or(obj, "type", "must be a lower-case name matching [a-z][a-z0-9_]{0,63}")
        )
    if len(_valid_types) < _MAX_REMEMBERED_TYPES:
        _valid_types.add(value)
    return value


def _profile(obj: object) -> Profile:
    """The schema checks of account-profile.v1; raises `_Violation`."""
    if not isinstance(obj, dict):
        raise _Violation("$: must be a JSON object")
    _check_depth(obj)
    account_id = _required_string(obj, "account_id")
    updated_at = _timestamp(obj, "updated_at")
    for key in _PROFILE_STRINGS:
        _nullable_string(obj, key, key)
    for key in _PROFILE_AMOUNTS:
        _nullable_amount(obj, key)
    customer = obj.get("customer")
    if customer is not None and not isinstance(customer, bool):
        raise _Violation("customer: must be a boolean or null")
    _nullable_string_list(obj, "technologies")
    _owner(obj)
    fields = dict(obj)
    domains = _domains(obj)
    if domains is not None:
        fields["domains"] = domains
    return Profile(account_id, updated_at, fields)


def _absent_or(obj: dict[str, Any], key: str, rule: str) -> str:
    """The detail for a required field that is absent or breaks `rule`."""
    return f"{key}: is required" if key not in obj else f"{key}: {rule}"


def _required_string(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise _Violation(
            _absent_or(obj, key, f"must be a string of 1 to {MAX_ID_LENGTH} characters")
        )
    return value


def _optional_string(obj: dict[str, Any], key: str) -> str | None:
    """An optional id: absent -> None; present must be 1..MAX_ID_LENGTH characters (not null)."""
    value = obj.get(key)
    if value is None and key not in obj:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        raise _Violation(f"{key}: must be a string of 1 to {MAX_ID_LENGTH} characters")
    return value


def _timestamp(obj: dict[str, Any], key: str) -> float:
    """A required RFC 3339 date-time with offset -> epoch seconds.

    The pattern fixes the syntax; parse_rfc3339 then refuses calendar impossibilities (Feb 30),
    which is what the schema's `format: date-time` adds to its pattern.
    """
    value = obj.get(key)
    if isinstance(value, str) and _is_timestamp(value):
        try:
            return parse_rfc3339(value)
        except InvalidTimestamp:
            pass  # falls through to the same message as a syntax error
    raise _Violation(_absent_or(obj, key, "must be an RFC 3339 date-time with offset"))


def _is_dns_name(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and len(value) <= MAX_DOMAIN_LENGTH and bool(_is_domain(value))


def _optional_domain(obj: dict[str, Any]) -> str | None:
    """Absent -> None; present must be a DNS name, returned lower-cased."""
    value = obj.get("domain")
    if value is None and "domain" not in obj:
        return None
    if not _is_dns_name(value):
        raise _Violation("domain: must be a DNS name (letters, digits, hyphens, dot-separated)")
    return value.lower()


def _properties(obj: dict[str, Any], copy: bool) -> Mapping[str, PropertyValue]:
    """Absent -> the shared empty mapping; else a flat object of at most MAX_PROPERTIES scalars
    (a copy when `copy`, else the decoded object itself)."""
    value = obj.get("properties")
    if value is None and "properties" not in obj:
        return NO_PROPERTIES
    if not isinstance(value, dict):
        raise _Violation("properties: must be an object")
    if len(value) > MAX_PROPERTIES:
        raise _Violation(f"properties: must have at most {MAX_PROPERTIES} keys")
    for key, item in value.items():
        if type(item) not in _PLAIN_SCALARS:
            _check_property(key, item)
    return dict(value) if copy else value


def _check_property(key: str, item: object) -> None:
    """The rarer property values: floats (finite?), subclasses of the scalar types, the rest."""
    if not isinstance(item, _SCALARS):
        raise _Violation(f"properties.{_shown(key)}: must be a string, number or boolean")
    if isinstance(item, float) and not math.isfinite(item):
        raise _Violation(f"properties.{_shown(key)}: must be a finite number")


def _shown(key: object) -> str:
    """A property name fit for a detail, which ends up in logs and dead-letter headers.

    Client-chosen names can be kilobytes long or hold line breaks: shorten them, and escape
    those that are not printable so that a name cannot forge a log line.
    """
    shown = key if isinstance(key, str) and key.isprintable() else ascii(key)
    if len(shown) <= _MAX_NAME_IN_DETAIL:
        return shown
    return shown[: _MAX_NAME_IN_DETAIL - 3] + "..."


def _nullable_string(obj: dict[str, Any], key: str, place: str) -> None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise _Violation(f"{place}: must be a string or null")


def _nullable_amount(obj: dict[str, Any], key: str) -> None:
    """A count or an amount: a finite number >= 0, or null. A boolean is not a number."""
    value = obj.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Violation(f"{key}: must be a number or null")
    # isfinite only on floats: it would overflow on a huge int, which json.loads can produce.
    if (isinstance(value, float) and not math.isfinite(value)) or value < 0:
        raise _Violation(f"{key}: must be a finite number >= 0")


def _nullable_string_list(obj: dict[str, Any], key: str) -> None:
    value = obj.get(key)
    if value is None:
        return
    if not isinstance(value, list):
        raise _Violation(f"{key}: must be a list of strings or null")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _Violation(f"{key}[{index}]: must be a string")


def _domains(obj: dict[str, Any]) -> list[str] | None:
    """`domains`: null or absent -> None; else every item a DNS name, returned lower-cased."""
    value = obj.get("domains")
    if value is None:
        return None
    if not isinstance(value, list):
        raise _Violation("domains: must be a list of DNS names or null")
    for index, item in enumerate(value):
        if not _is_dns_name(item):
            raise _Violation(
                f"domains[{index}]: must be a DNS name (letters, digits, hyphens, dot-separated)"
            )
    return [item.lower() for item in value]


def _owner(obj: dict[str, Any]) -> None:
    owner = obj.get("owner")
    if owner is None:
        return
    if not isinstance(owner, dict):
        raise _Violation("owner: must be an object or null")
    for key in _OWNER_STRINGS:
        _nullable_string(owner, key, f"owner.{key}")
