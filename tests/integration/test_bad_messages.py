"""Bad and odd messages against a real worker, the real Kafka and Redis: none stops it.

One worker and one topic set (a single partition, so every bad message sits between good ones
and a stuck partition would hold back all that follows) take a table of cases produced by an
outside client (confluent-kafka, librdkafka: every codec, null values, chosen timestamps). Each
good message names an account of its own, so `GET /accounts/{id}` answering 200 proves it was
applied; each bad one carries a `case` header, kept in its dead letter, to find its code.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.producer import message_accumulator
from aiokafka.producer import producer as producer_module
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy as PythonBatchBuilder
from confluent_kafka import Producer

from scoring.decode import MAX_JSON_DEPTH
from scoring.errors import DeadLetterCode
from scoring.timefmt import format_rfc3339
from streams.runtime.kafka_admin import delete_topics_with_prefix, wait_for_topics
from streams.runtime.messages import MAX_MESSAGE_BYTES, TRUNCATED_HEADER
from streams.runtime.topics import DEAD_LETTERS, EVENTS, PROFILES, SCORE_CHANGES
from tests.integration.live import LiveRun, get, healthy

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow]

CODECS = ("none", "gzip", "snappy", "lz4", "zstd")
BIG = 10_000_000  # bytes of the 10 MB message (gzip makes it small on the wire)

BY_ACCOUNT = b"<keyed by the account>"

INVALID_JSON = DeadLetterCode.INVALID_JSON
SCHEMA = DeadLetterCode.SCHEMA_VIOLATION
TOO_LARGE = DeadLetterCode.TOO_LARGE


@dataclass(frozen=True)
class Case:
    """One message: applied (`code` None: `account` must be found) or a dead letter `code`."""

    name: str
    value: bytes | None
    code: DeadLetterCode | None = None
    account: str | None = None  # the account a good message makes known
    topic: str = EVENTS
    key: bytes | None = BY_ACCOUNT  # BY_ACCOUNT: keyed by `account`
    headers: list[tuple[str, bytes | None]] = field(default_factory=list)
    codec: str = "none"
    timestamp_ms: int | None = None


def nested(depth: int) -> object:
    """A JSON value `depth` levels of arrays deep."""
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def deep(value: bytes, levels: int) -> bytes:
    """`value` with its `"deep":0` made `levels` arrays deep (orjson writes at most 254)."""
    return value.replace(b'"deep":0', b'"deep":' + b"[" * levels + b"1" + b"]" * levels)


def event(name: str, account: str, **fields: object) -> bytes:
    body: dict[str, object] = {
        "event_id": f"ev-{name}",
        "type": "page_view",
        "occurred_at": format_rfc3339(time.time() - 60),
        "account_id": account,
        "properties": {"url": "/pricing"},
    }
    body.update(fields)
    return orjson.dumps(body)


def profile(account: str, **fields: object) -> bytes:
    body: dict[str, object] = {
        "account_id": account,
        "updated_at": format_rfc3339(time.time() - 60),
        "name": "Acme",
        "employees": 120,
    }
    body.update(fields)
    return orjson.dumps(body)


def good_event(name: str, **extra: object) -> Case:
    account = f"good-{name}"
    return Case(name, event(name, account, **extra), account=account)


def bad_event(
    name: str,
    value: bytes | None,
    code: DeadLetterCode,
    headers: list[tuple[str, bytes | None]] | None = None,
    codec: str = "none",
) -> Case:
    return Case(name, value, code, key=b"some-key", headers=headers or [], codec=codec)


def cases() -> Iterator[Case]:
    """The table, in the order produced; a good event between every two cases."""
    now = time.time()
    table: list[Case] = [
        # null values: Kafka's tombstones
        bad_event("event-tombstone", None, SCHEMA),
        Case("profile-tombstone", None, SCHEMA, topic=PROFILES, key=b"prof-x"),
        # encodings
        bad_event("empty", b"", INVALID_JSON),
        bad_event(
            "latin-1", event("latin-1", "caf\xe9").replace(b"\xc3\xa9", b"\xe9"), INVALID_JSON
        ),
        bad_event("utf-16", event("utf-16", "a").decode().encode("utf-16"), INVALID_JSON),
        bad_event("bom", b"\xef\xbb\xbf" + event("bom", "a"), INVALID_JSON),
        # JSON syntax and numbers
        bad_event("syntax", b'{"event_id": "x",', INVALID_JSON),
        bad_event(
            "nan", event("nan", "a", properties={"n": 1}).replace(b"1}", b"NaN}"), INVALID_JSON
        ),
        bad_event(
            "1e400",
            event("1e400", "a", properties={"n": 1}).replace(b"1}", b"1e400}"),
            INVALID_JSON,
        ),
        Case(
            "minus-zero",
            event("minus-zero", "good-minus-zero", properties={"n": -0.0}),
            account="good-minus-zero",
        ),
        Case(
            "huge-int",
            event("huge-int", "good-huge-int", properties={"n": 1}).replace(
                b'"n":1', b'"n":' + b"9" * 40
            ),
            account="good-huge-int",
        ),
        # types
        bad_event("array", b"[1, 2]", SCHEMA),
        bad_event("number", b"42", SCHEMA),
        bad_event("id-number", event("id-number", "a", event_id=7), SCHEMA),
        bad_event("properties-list", event("properties-list", "a", properties=[1]), SCHEMA),
        Case(
            "profile-employees",
            profile("prof-y", employees="many"),
            SCHEMA,
            topic=PROFILES,
            key=b"prof-y",
        ),
        # nesting: up to MAX_JSON_DEPTH applied, deeper refused
        Case(
            "deep-ok",
            event("deep-ok", "good-deep-ok", extra=nested(MAX_JSON_DEPTH - 1)),
            account="good-deep-ok",
        ),
        bad_event("deep-event", deep(event("deep-event", "a", deep=0), 300), SCHEMA),
        Case(
            "deep-owner",
            deep(profile("prof-z", owner={"id": "o", "deep": 0}), 300),
            SCHEMA,
            topic=PROFILES,
            key=b"prof-z",
        ),
        # sizes
        bad_event("64k", event("64k", "a", pad="x" * 70_000), TOO_LARGE),
        bad_event("10MB", b'{"pad": "' + b"x" * BIG + b'"}', TOO_LARGE, codec="gzip"),
        # keys: a good event keyed wrong is re-published keyed by its account, then applied
        Case("key-empty", event("key-empty", "good-key-empty"), account="good-key-empty", key=b""),
        Case("key-none", event("key-none", "good-key-none"), account="good-key-none", key=None),
        Case(
            "key-binary",
            event("key-binary", "good-key-binary"),
            account="good-key-binary",
            key=b"\xff\xfe\x00",
        ),
        Case("key-braces", event("key-braces", "acme{p0}:x}{"), account="acme{p0}:x}{"),
        Case("key-slash", event("key-slash", "acme/eu?x=1#y"), account="acme/eu?x=1#y"),
        # timestamps: in the message and Kafka's own
        bad_event(
            "leap-second", event("leap-second", "a", occurred_at="2026-06-30T23:59:60Z"), SCHEMA
        ),
        bad_event("lower-t", event("lower-t", "a", occurred_at="2026-01-01t00:00:00z"), SCHEMA),
        bad_event("feb-30", event("feb-30", "a", occurred_at="2026-02-30T00:00:00Z"), SCHEMA),
        bad_event(
            "year-9999",
            event("year-9999", "a", occurred_at="9999-12-31T23:59:59Z"),
            DeadLetterCode.FUTURE_TIMESTAMP,
        ),
        Case(
            "year-1000",
            event("year-1000", "good-year-1000", occurred_at="1000-01-01T00:00:00Z"),
            account="good-year-1000",
        ),
        Case(
            "offset",
            event("offset", "good-offset", occurred_at=format_rfc3339(now - 60)[:-1] + "+23:59"),
            account="good-offset",
        ),
        Case(  # after a recent one: more than ALLOWED_LATENESS before the account's clock
            "year-1000-after-recent",
            event("year-1000-after-recent", "good-offset", occurred_at="1000-01-01T00:00:00Z"),
            DeadLetterCode.TOO_LATE,
            key=b"good-offset",
        ),
        Case(
            "kafka-time-0",
            event("kafka-time-0", "good-kafka-time-0"),
            account="good-kafka-time-0",
            timestamp_ms=1,
        ),
        Case(
            "kafka-time-ahead",
            event("kafka-time-ahead", "good-kafka-time-ahead"),
            account="good-kafka-time-ahead",
            timestamp_ms=int((now + 1800) * 1000),  # the broker refuses 1 h ahead,
        ),
        # headers: opaque, kept in a dead letter as they came
        Case(
            "header-null",
            event("header-null", "good-header-null"),
            account="good-header-null",
            headers=[("x-null", None), ("x-bin", b"\x00\xff")],
        ),
        bad_event(
            "header-kept", b"{", INVALID_JSON, headers=[("x-null", None), ("x-bin", b"\x00\xff")]
        ),
    ]
    table += [
        Case(
            f"codec-{codec}",
            event(f"codec-{codec}", f"good-codec-{codec}"),
            account=f"good-codec-{codec}",
            codec=codec,
        )
        for codec in CODECS
    ]
    table += [bad_event(f"codec-{codec}-bad", b"{", INVALID_JSON, codec=codec) for codec in CODECS]
    for index, case in enumerate(table):
        yield good_event(f"before-{index}")
        yield case
    yield good_event("last")


def produce(bootstrap: str, topic_of: dict[str, str], table: list[Case]) -> None:
    """Every case in order, each codec by its own producer, flushed before the next case."""
    producers: dict[str, Producer] = {}
    failed: list[object] = []
    for case in table:
        producer = producers.get(case.codec)
        if producer is None:
            producer = producers[case.codec] = Producer(
                {
                    "bootstrap.servers": bootstrap,
                    "compression.type": case.codec,
                    "message.max.bytes": 2 * BIG,
                    "linger.ms": 0,
                    "enable.idempotence": False,
                }
            )
        key = case.key
        if key == BY_ACCOUNT:
            assert case.account is not None, case.name
            key = case.account.encode()
        options: dict[str, object] = {}
        if case.timestamp_ms is not None:
            options["timestamp"] = case.timestamp_ms
        producer.produce(
            topic_of[case.topic],
            value=case.value,
            key=key,
            headers=[*case.headers, ("case", case.name.encode())],
            on_delivery=lambda err, _, name=case.name: err and failed.append((name, err)),
            **options,
        )
        assert producer.flush(30) == 0, case.name
    assert not failed, failed


class RawName(str):
    """A header name whose bytes on the wire are `raw` (not UTF-8), for aiokafka's pure-Python
    record builder, which writes `name.encode("utf-8")`: Kafka clients only take names as
    strings, librdkafka's included."""

    raw: bytes

    def __new__(cls, raw: bytes) -> RawName:
        name = super().__new__(cls, raw.decode("latin-1"))
        name.raw = raw
        return name

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


async def produce_raw_header_names(
    bootstrap: str, topic: str, monkeypatch: pytest.MonkeyPatch
) -> list[Case]:
    """A good and a bad event with a header named 0xFF 0xFE (not UTF-8), between good events."""
    for module in (message_accumulator, producer_module):  # its builder, and its estimate
        monkeypatch.setattr(module, "DefaultRecordBatchBuilder", PythonBatchBuilder)
    name = RawName(b"\xff\xfe")
    table = [
        good_event("raw-name-before"),
        Case("raw-name-good", event("raw-name-good", "good-raw-name"), account="good-raw-name"),
        bad_event("raw-name-bad", b"{", INVALID_JSON),
        good_event("raw-name-after"),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    try:
        for case in table:
            assert case.value is not None
            key = case.account.encode() if case.account else case.key
            headers = [(name, b"v"), ("case", case.name.encode())]
            await producer.send_and_wait(topic, case.value, key=key, headers=headers)
    finally:
        await producer.stop()
    return table


@pytest.fixture
async def run(tmp_path: Path, test_id: str, kafka_bootstrap: str, redis_client) -> LiveRun:
    live = LiveRun(test_id, tmp_path, partitions=1)
    yield live
    live.stop_all()
    await delete_topics_with_prefix(kafka_bootstrap, f"test-{test_id}")


async def test_no_bad_message_stops_the_worker(
    run: LiveRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker = run.start_worker()
    names = {n: run.settings.topic(n) for n in (EVENTS, PROFILES, SCORE_CHANGES, DEAD_LETTERS)}
    await wait_for_topics(run.settings.kafka_bootstrap, list(names.values()))
    port = run.ports[0]
    await healthy(port)
    table = list(cases())
    await asyncio.to_thread(produce, run.settings.kafka_bootstrap, names, table)
    table += await produce_raw_header_names(
        run.settings.kafka_bootstrap, names[EVENTS], monkeypatch
    )
    await run.wait_applied("events", timeout=60)
    await run.wait_applied("profiles", timeout=30)

    assert worker.poll() is None, run.log_tail()
    assert get(port, "/healthz")[0] == 200
    for case in table:
        if case.code is None:
            assert case.account is not None
            path = "/accounts/" + urllib.parse.quote(case.account, safe="")
            status, body = get(port, path)
            assert status == 200, (case.name, status, body[:200])
            assert orjson.loads(body)["account_id"] == case.account

    dead = await run.dead_letters()
    by_case = {headers["case"].decode(): (key, value, headers) for key, value, headers in dead}
    assert len(by_case) == len(dead), "one dead letter per bad message"
    expected = {case.name: case for case in table if case.code is not None}
    assert by_case.keys() == expected.keys()
    for name, (_, value, headers) in by_case.items():
        case = expected[name]
        assert headers["scorer.error.code"].decode() == case.code, (name, headers)
        assert headers["scorer.source.topic"].decode() == names[case.topic]
        if name == "10MB":
            assert len(value) < MAX_MESSAGE_BYTES
            assert headers[TRUNCATED_HEADER] == str(len(case.value or b"")).encode()
            assert case.value is not None and case.value.startswith(value)
        else:
            assert value == case.value, name
            assert TRUNCATED_HEADER not in headers
    assert by_case["event-tombstone"][2]["scorer.error.detail"] == b"$: a tombstone (null value)"
    kept = by_case["header-kept"][2]
    assert kept["x-null"] is None and kept["x-bin"] == b"\x00\xff"
    # A name that is not UTF-8 comes back with its bytes written as \xNN (names are strings).
    assert by_case["raw-name-bad"][2]["\\xff\\xfe"] == b"v"
