"""Fetched records whose header names are not UTF-8 (`streams.runtime.records`): read, each
record once, where aiokafka's own parser raises."""

from __future__ import annotations

import hashlib
import inspect
import struct

import pytest
from aiokafka.consumer import fetcher
from aiokafka.record.default_records import _DefaultRecordBatchBuilderPy, _DefaultRecordBatchPy
from aiokafka.structs import TopicPartition

from streams.runtime import records
from streams.runtime.records import KeptRecords, TotalPartitionRecords

TP = TopicPartition("t", 0)


class RawName(str):
    """A header name written as `raw` by aiokafka's pure-Python builder (`name.encode()`)."""

    raw: bytes

    def __new__(cls, raw: bytes) -> RawName:
        name = super().__new__(cls, raw.decode("latin-1"))
        name.raw = raw
        return name

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


def batch(base_offset: int, headers: list[list[tuple[str, bytes | None]]]) -> bytes:
    """One v2 batch, a record per item of `headers` (value `b"v<offset>"`)."""
    builder = _DefaultRecordBatchBuilderPy(2, 0, False, -1, -1, -1, 1 << 20)
    for delta, record_headers in enumerate(headers):
        value = f"v{base_offset + delta}".encode()
        builder.append(delta, timestamp=1_000, key=None, value=value, headers=record_headers)
    data = builder.build()
    struct.pack_into(">q", data, 0, base_offset)  # the broker's offset; outside the CRC
    return bytes(data)


def unpacked(data: bytes, fetch_offset: int = 0) -> list[tuple[int, bytes, list[object]]]:
    partition = TotalPartitionRecords(
        TP, KeptRecords(data), None, fetch_offset, None, None, True, fetcher.READ_UNCOMMITTED
    )
    return [(r.offset, r.value, list(r.headers)) for r in partition]


def test_aiokafkas_record_reader_is_the_one_copied() -> None:
    source = inspect.getsource(_DefaultRecordBatchPy._read_msg)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "0997ab7a58505c939c31b1cf5809aff4ac6de70f713794d3c62bd049a3270a4a"
    ), "aiokafka's _read_msg changed: copy it into streams/runtime/records.py again"


def test_a_header_name_that_is_not_utf8_is_read_and_no_record_comes_twice() -> None:
    bad = [(RawName(b"\xff\xfe"), b"x")]
    data = batch(0, [[("a", b"1")], []]) + batch(2, [[("b", None)], bad, []]) + batch(5, [[]])

    got = unpacked(data)

    assert [offset for offset, _, _ in got] == [0, 1, 2, 3, 4, 5]
    assert [value for _, value, _ in got] == [b"v0", b"v1", b"v2", b"v3", b"v4", b"v5"]
    assert got[2][2] == [("b", None)]
    assert got[3][2] == [("\\xff\\xfe", b"x")]


def test_the_fetch_offset_still_skips_what_was_fetched_before() -> None:
    bad = [(RawName(b"\x80"), b"x")]
    assert [o for o, _, _ in unpacked(batch(0, [[], bad, []]), fetch_offset=1)] == [1, 2]
    assert [o for o, _, _ in unpacked(batch(0, [bad, [], []]), fetch_offset=2)] == [2]


def test_plain_records_are_read_by_aiokafkas_own_parser() -> None:
    with pytest.raises(UnicodeDecodeError):
        list(KeptRecords(batch(0, [[(RawName(b"\xff"), b"x")]])).next_batch())
    assert [o for o, _, _ in unpacked(batch(0, [[("a", b"1")], []]))] == [0, 1]


def test_install_swaps_the_fetchers_classes() -> None:
    records.install()
    assert fetcher.MemoryRecords is KeptRecords
    assert fetcher.PartitionRecords is TotalPartitionRecords
