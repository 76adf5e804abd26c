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
    value: bytes
    timestamp: float  # the message's Kafka timestamp, epoch seconds
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message for Kafka, as kept in the outbox until the broker acknowledges it."""

    destination: Destination
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()

    def encode(self) -> bytes:
        """`destination u8 | key length i32 (-1 = none) | key | headers JSON length u32 |
        headers JSON | value`: binary-safe, since dead letters carry the original bytes."""
        key = b"" if self.key is None else self.key
        headers = orjson.dumps([[name, value.decode("latin-1")] for name, value in self.headers])
        return (
            struct.pack(">Bi", self.destination, -1 if self.key is None else len(key))
            + key
            + struct.pack(">I", len(headers))
            + headers
            + self.value
        )

    @classmethod
    def decode(cls, entry: bytes) -> Outgoing:
        destination, key_length = struct.unpack_from(">Bi", entry, 0)
        at = 5
        key = None if key_length < 0 else entry[at : at + key_length]
        at += max(key_length, 0)
        (headers_length,) = struct.unpack_from(">I", entry, at)
        at += 4
        headers = tuple(
            (name, value.encode("latin-1"))
            for name, value in orjson.loads(entry[at : at + headers_length])
        )
        return cls(Destination(destination), key, entry[at + headers_length :], headers)


def dead_letter(message: Incoming, code: DeadLetterCode, detail: str, now: float) -> Outgoing:
    """The original message, bytes and headers kept, with why and where it failed."""
    headers = (
        *message.headers,
        ("scorer.error.code", code.encode()),
        ("scorer.error.detail", detail.encode()),
        ("scorer.source.topic", message.topic.encode()),
        ("scorer.source.partition", str(message.partition).encode()),
        ("scorer.source.offset", str(message.offset).encode()),
        ("scorer.failed.at", format_rfc3339(now).encode()),
    )
    return Outgoing(Destination.DEAD_LETTERS, message.key, message.value, headers)


def is_alert(model: Model, change: TierChange) -> bool:
    """True when the account moved up into a tier marked `alert: true`: a rep should know now."""
    ranks = {tier.name: index for index, tier in enumerate(model.tiers)}
    tier = model.tiers[ranks[change.tier]]
    return tier.alert and ranks[change.tier] < ranks[change.previous_tier]


def score_change_message(
    change: TierChange, alert: bool, profile: Profile | None, now: float
) -> bytes:
    """A score-change.v1 message (schemas/score-change.v1.schema.json)."""
    owner = profile.fields.get("owner") if profile is not None else None
    return orjson.dumps(
        {
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
    )


def reroute(message: Incoming, account_id: str) -> Outgoing:
    """The event again, keyed by (and naming) its account, for the partition that owns it."""
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


def _headers(headers: Any) -> Iterable[tuple[str, bytes]]:
    if not headers:
        return ()
    items = headers.items() if isinstance(headers, dict) else headers
    return ((str(k), v if isinstance(v, bytes) else str(v).encode()) for k, v in items)
