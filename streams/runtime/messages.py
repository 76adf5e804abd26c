"""The messages the pipeline reads and writes: raw Kafka messages in (`Incoming`, from faust's
events by `group_batch`), outbox entries out (`Outgoing`: score changes, dead letters and
re-routed input), and the bodies and headers of each."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import orjson

from scoring.engine import TierChange
from scoring.errors import DeadLetterCode
from scoring.messages import Profile
from scoring.model import Model
from scoring.timefmt import format_rfc3339

INGESTED_HEADER = "scorer.ingested.at"  # Kafka timestamp (epoch s) of the batch's first message
TRUNCATED_HEADER = "scorer.payload.truncated"  # a dead letter's value was cut: its original length
KEY_TRUNCATED_HEADER = "scorer.key.truncated"  # a dead letter's key was cut: its original length
HEADERS_DROPPED_HEADER = "scorer.headers.dropped"  # the original headers left out: how many

MAX_MESSAGE_BYTES = 1_000_000
"""The largest message the worker's producer sends (faust's `producer_max_request_size`, which
`streams.runtime.app` sets to this): below the broker's default `message.max.bytes` (1,048,588),
which no topic of the project raises. A dead letter is cut to fit it (`dead_letter`)."""

# What a record costs beyond its key, value and headers (the producer's estimate counts the
# batch header, 61 B, and each record's varints): kept free, so a dead letter stays below.
_RECORD_ROOM = 1024
# A dead letter keeps at most this much of the original key and of the original headers (names
# and values together); the value gets what is left.
_MAX_KEPT_KEY = _MAX_KEPT_HEADERS = 65_536

Headers = tuple[tuple[str, bytes | None], ...]
"""Kafka headers as the pipeline keeps them: names as strings (a name that is not UTF-8 is read
with its bad bytes as `\\xNN`, `streams.runtime.records`), values as bytes or None (null)."""


class Destination(IntEnum):
    """Where an outbox entry goes."""

    SCORE_CHANGES = 0
    DEAD_LETTERS = 1
    EVENTS = 2
    PROFILES = 3


@dataclass(frozen=True, slots=True)
class Incoming:
    """One raw Kafka message as the pipeline needs it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None  # None: a tombstone
    timestamp: float  # the message's Kafka timestamp, epoch seconds
    headers: Headers = ()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for Kafka, as kept in the outbox until the broker acknowledges it."""

    destination: Destination
    key: bytes | None
    value: bytes | None  # None: a tombstone (the dead letter of one)
    headers: Headers = ()

    def encode(self) -> bytes:
        """`destination u8 | key length i32 (-1 = none) | key | value length i32 (-1 = none) |
        headers JSON length u32 | headers JSON | value`: binary-safe, since dead letters carry
        the original bytes (header values as latin-1 strings or null)."""
        key = b"" if self.key is None else self.key
        value = b"" if self.value is None else self.value
        headers = orjson.dumps(
            [[name, None if raw is None else raw.decode("latin-1")] for name, raw in self.headers]
        )
        return (
            struct.pack(">Bi", self.destination, -1 if self.key is None else len(key))
            + key
            + struct.pack(">iI", -1 if self.value is None else len(value), len(headers))
            + headers
            + value
        )

    @classmethod
    def decode(cls, entry: bytes) -> Outgoing:
        destination, key_length = struct.unpack_from(">Bi", entry, 0)
        at = 5
        key = None if key_length < 0 else entry[at : at + key_length]
        at += max(key_length, 0)
        value_length, headers_length = struct.unpack_from(">iI", entry, at)
        at += 8
        headers = tuple(
            (name, None if raw is None else raw.encode("latin-1"))
            for name, raw in orjson.loads(entry[at : at + headers_length])
        )
        value = None if value_length < 0 else entry[at + headers_length :]
        return cls(Destination(destination), key, value, headers)


def dead_letter(message: Incoming, code: DeadLetterCode, detail: str, now: float) -> Outgoing:
    """The original message, bytes and headers kept, with why and where it failed; always
    publishable: cut to fit `MAX_MESSAGE_BYTES`, and says so in a header.

    Of a message too large to keep whole, the dead letter keeps the first bytes of its value
    (`scorer.payload.truncated`: the original length); a key over 64 KiB is cut too
    (`scorer.key.truncated`), and original headers over 64 KiB in all are dropped
    (`scorer.headers.dropped`: how many).
    """
    key, kept = message.key, message.headers
    notes: list[tuple[str, bytes | None]] = []
    if key is not None and len(key) > _MAX_KEPT_KEY:
        notes.append((KEY_TRUNCATED_HEADER, str(len(key)).encode()))
        key = key[:_MAX_KEPT_KEY]
    if _headers_size(kept) > _MAX_KEPT_HEADERS:
        notes.append((HEADERS_DROPPED_HEADER, str(len(kept)).encode()))
        kept = ()
    headers: Headers = (
        *kept,
        ("scorer.error.code", code.encode()),
        ("scorer.error.detail", detail.encode()),
        ("scorer.source.topic", message.topic.encode()),
        ("scorer.source.partition", str(message.partition).encode()),
        ("scorer.source.offset", str(message.offset).encode()),
        ("scorer.failed.at", format_rfc3339(now).encode()),
    )
    value = message.value
    room = MAX_MESSAGE_BYTES - _RECORD_ROOM - len(key or b"") - _headers_size((*headers, *notes))
    if value is not None and len(value) > room:
        note = (TRUNCATED_HEADER, str(len(value)).encode())
        notes.append(note)
        value = value[: max(room - _headers_size((note,)), 0)]
    return Outgoing(Destination.DEAD_LETTERS, key, value, (*headers, *notes))


def fits(message: Outgoing) -> bool:
    """Whether the producer sends `message` (at most `MAX_MESSAGE_BYTES` with a record's room)."""
    size = len(message.key or b"") + len(message.value or b"") + _headers_size(message.headers)
    return size <= MAX_MESSAGE_BYTES - _RECORD_ROOM


def _headers_size(headers: Headers) -> int:
    """The bytes of `headers` in a record, near enough (names as UTF-8, values)."""
    return sum(len(name.encode()) + len(raw or b"") + 2 for name, raw in headers)


def is_alert(model: Model, change: TierChange) -> bool:
    """True when the account moved up into a tier marked `alert: true`: a rep should know now."""
    ranks = {tier.name: index for index, tier in enumerate(model.tiers)}
    tier = model.tiers[ranks[change.tier]]
    return tier.alert and ranks[change.tier] < ranks[change.previous_tier]


def score_change_message(
    change: TierChange, alert: bool, profile: Profile | None, now: float
) -> bytes:
    """A score-change.v1 message (schemas/score-change.v1.schema.json). Its `owner` is null
    when the profile's would make the message too large for Kafka (a profile may have 1 MiB)."""
    owner = profile.fields.get("owner") if profile is not None else None
    body = {
        "account_id": change.account_id,
        "model": change.model,
        "model_version": change.model_version,
        "seq": change.seq,
        "previous_tier": change.previous_tier,
        "tier": change.tier,
        "alert": alert,
        "previous_total": change.previous_total,
        "total": change.total,
        "fit": change.fit,
        "engagement": change.engagement,
        "cause": change.cause,
        "explanation": change.explanation.to_dict(),
        "owner": owner if isinstance(owner, dict) else None,
        "occurred_at": format_rfc3339(change.at),
        "emitted_at": format_rfc3339(now),
    }
    message = orjson.dumps(body)
    # The key (an account_id) and the ingest header take well under the room kept besides.
    if len(message) > MAX_MESSAGE_BYTES - 2 * _RECORD_ROOM and body["owner"] is not None:
        body["owner"] = None
        message = orjson.dumps(body)
    return message


def reroute(message: Incoming, account_id: str) -> Outgoing:
    """The event again, keyed by (and naming) its account, for the partition that owns it.
    `message` is an event `scoring.decode` accepted: a value, nested at most `MAX_JSON_DEPTH`
    deep (orjson writes at most 254 levels)."""
    assert message.value is not None, "a decoded event has a value"
    body = orjson.loads(message.value)
    body["account_id"] = account_id
    headers = (*message.headers, ("scorer.rerouted.from", (message.key or b"")))
    return Outgoing(Destination.EVENTS, account_id.encode(), orjson.dumps(body), headers)


def group_batch(batch: Sequence[Any]) -> dict[tuple[str, int, int], list[Incoming]]:
    """A faust batch as `Incoming` messages per (topic, partition, consumer generation), each
    in offset order. A batch taken across a rebalance holds messages of two generations."""
    groups: dict[tuple[str, int, int], list[Incoming]] = {}
    for event in batch:
        message = event.message
        key = (message.topic, message.partition, int(message.generation_id))
        groups.setdefault(key, []).append(
            Incoming(
                topic=message.topic,
                partition=message.partition,
                offset=message.offset,
                key=message.key,
                value=message.value,
                timestamp=message.timestamp,
                headers=tuple(_headers(message.headers)),
            )
        )
    for messages in groups.values():
        messages.sort(key=lambda m: m.offset)
    return groups


def _headers(headers: Any) -> Iterable[tuple[str, bytes | None]]:
    """aiokafka's headers, names and values as they came: opaque, nothing decoded here."""
    if not headers:
        return ()
    items = headers.items() if isinstance(headers, dict) else headers
    return ((str(k), v if v is None or isinstance(v, bytes) else bytes(v)) for k, v in items)
