"""Outbox entries and dead letters (`streams.runtime.messages`): binary-safe, null values kept,
and a dead letter always small enough for the producer."""

from __future__ import annotations

from scoring.errors import DeadLetterCode
from streams.runtime.messages import (
    HEADERS_DROPPED_HEADER,
    KEY_TRUNCATED_HEADER,
    MAX_MESSAGE_BYTES,
    TRUNCATED_HEADER,
    Destination,
    Incoming,
    Outgoing,
    dead_letter,
    fits,
)

NOW = 1_795_000_000.0


def incoming(value: bytes | None, key: bytes | None = b"k", headers=()) -> Incoming:  # type: ignore[no-untyped-def]
    return Incoming("events", 3, 42, key, value, NOW, tuple(headers))


def test_an_entry_comes_back_as_it_went_in() -> None:
    for message in (
        Outgoing(Destination.DEAD_LETTERS, None, None, (("x-null", None), ("\\xff", b"\x00\xff"))),
        Outgoing(Destination.EVENTS, b"", b"", ()),
        Outgoing(Destination.PROFILES, b"\xff", b"\x00{}\xff", (("a", b""),)),
    ):
        assert Outgoing.decode(message.encode()) == message


def test_a_dead_letter_keeps_the_message_and_says_why() -> None:
    message = incoming(b"{", headers=[("x-null", None), ("case", b"1")])
    dead = dead_letter(message, DeadLetterCode.INVALID_JSON, "$: not UTF-8 JSON", NOW)
    headers = dict(dead.headers)
    assert (dead.key, dead.value) == (b"k", b"{")
    assert headers["x-null"] is None and headers["case"] == b"1"
    assert headers["scorer.error.code"] == b"invalid_json"
    assert headers["scorer.source.offset"] == b"42"
    assert TRUNCATED_HEADER not in headers


def test_a_tombstone_is_a_dead_letter_with_a_null_value() -> None:
    dead = dead_letter(incoming(None), DeadLetterCode.SCHEMA_VIOLATION, "$: a tombstone", NOW)
    assert dead.value is None and Outgoing.decode(dead.encode()) == dead


def test_a_dead_letter_too_large_for_kafka_keeps_the_first_bytes_and_says_so() -> None:
    value = b"x" * 10_000_000
    dead = dead_letter(incoming(value), DeadLetterCode.TOO_LARGE, "$: too large", NOW)
    assert fits(dead)
    assert dead.value is not None and value.startswith(dead.value)
    assert len(dead.value) > MAX_MESSAGE_BYTES - 4096
    assert dict(dead.headers)[TRUNCATED_HEADER] == b"10000000"


def test_a_huge_key_is_cut_and_huge_headers_are_dropped() -> None:
    headers = [(f"h{n}", b"y" * 10_000) for n in range(20)]
    message = incoming(b"v" * 2_000_000, key=b"k" * 2_000_000, headers=headers)
    dead = dead_letter(message, DeadLetterCode.TOO_LARGE, "$: too large", NOW)
    kept = dict(dead.headers)
    assert fits(dead)
    assert kept[KEY_TRUNCATED_HEADER] == b"2000000" and dead.key == b"k" * 65_536
    assert kept[HEADERS_DROPPED_HEADER] == b"20" and "h0" not in kept
    assert kept[TRUNCATED_HEADER] == b"2000000"
