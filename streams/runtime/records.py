"""Reading Kafka records whose header names are not UTF-8, instead of stopping the consumer.

Kafka header names are bytes on the wire; aiokafka 0.14 decodes each as strict UTF-8 while it
parses a fetched batch (in its C extension: `UnicodeDecodeError`), inside the consumer's fetch
loop, so one such header from any producer crashed the worker (exit 1) and every restart met it
again. The worker never reads a header name, so it only needs the message: a partition's fetched
records that fail so are parsed again, from the first record not yet delivered, by
`LenientRecordBatch`, which reads a name's invalid bytes as `\\xNN` (Python's
`backslashreplace`). A dead letter or a re-routed copy of such a message carries the name so
written: a Kafka client takes header names as strings, and the raw bytes could not be sent.

The common batch still goes through aiokafka's C parser: only the partition's records that
hold such a name (from the failing batch on) are parsed in Python. `install` swaps two names in
`aiokafka.consumer.fetcher`: `MemoryRecords` (kept with the fetched bytes) and
`PartitionRecords` (with the fallback). `LenientRecordBatch._read_msg` is aiokafka 0.14.0's but
for that one decode; tests/unit/streams/runtime/test_records.py fails when aiokafka's changes.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import _DefaultRecordBatchPy, _DefaultRecordPy
from aiokafka.record.legacy_records import LegacyRecordBatch
from aiokafka.record.util import decode_varint

_NATIVE_MEMORY_RECORDS = fetcher.MemoryRecords
_LENGTH_OFFSET, _LOG_OVERHEAD, _MAGIC_OFFSET = 8, 12, 16  # as aiokafka's _MemoryRecordsPy


class LenientRecordBatch(_DefaultRecordBatchPy):  # type: ignore[misc]  # aiokafka is Any to mypy
    """aiokafka's pure-Python record batch (v2), but a header name that is not UTF-8 is read with
    its invalid bytes as `\\xNN` instead of raising."""

    def _read_msg(
        self, decode_varint: Callable[[bytearray, int], tuple[int, int]] = decode_varint
    ) -> Any:
        # aiokafka 0.14.0's `_DefaultRecordBatchPy._read_msg`, but for the header name's decode.
        buffer = self._buffer
        pos: int = self._pos  # type: ignore[has-type]  # aiokafka's, set in its __init__
        length, pos = decode_varint(buffer, pos)
        start_pos = pos
        _, pos = decode_varint(buffer, pos)  # attrs can be skipped for now

        ts_delta, pos = decode_varint(buffer, pos)
        if self.timestamp_type == self.LOG_APPEND_TIME:
            timestamp = self.max_timestamp
        else:
            timestamp = self.first_timestamp + ts_delta

        offset_delta, pos = decode_varint(buffer, pos)
        offset = self.base_offset + offset_delta

        key_len, pos = decode_varint(buffer, pos)
        if key_len >= 0:
            key = bytes(buffer[pos : pos + key_len])
            pos += key_len
        else:
            key = None

        value_len, pos = decode_varint(buffer, pos)
        if value_len >= 0:
            value = bytes(buffer[pos : pos + value_len])
            pos += value_len
        else:
            value = None

        header_count, pos = decode_varint(buffer, pos)
        if header_count < 0:
            raise CorruptRecordException(f"Found invalid number of record headers {header_count}")
        headers: list[tuple[str, bytes | None]] = []
        while header_count:
            h_key_len, pos = decode_varint(buffer, pos)
            if h_key_len < 0:
                raise CorruptRecordException(f"Invalid negative header key size {h_key_len}")
            h_key = buffer[pos : pos + h_key_len].decode("utf-8", "backslashreplace")
            pos += h_key_len

            h_value_len, pos = decode_varint(buffer, pos)
            if h_value_len >= 0:
                h_value = bytes(buffer[pos : pos + h_value_len])
                pos += h_value_len
            else:
                h_value = None

            headers.append((h_key, h_value))
            header_count -= 1

        if pos - start_pos != length:
            raise CorruptRecordException(
                f"Invalid record size: expected to read {length} bytes in record "
                f"payload, but instead read {pos - start_pos}"
            )
        self._pos = pos
        return _DefaultRecordPy(offset, timestamp, self.timestamp_type, key, value, headers)


class KeptRecords:
    """aiokafka's (C) `MemoryRecords` of one fetched partition, with the fetched bytes kept for
    `TotalPartitionRecords`' second reading."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._records = _NATIVE_MEMORY_RECORDS(data)
        self.has_next = self._records.has_next
        self.next_batch = self._records.next_batch
        self.size_in_bytes = self._records.size_in_bytes


class _LenientBatches:
    """The batches of fetched bytes that hold offsets from `start` on, read by
    `LenientRecordBatch`, as aiokafka's `MemoryRecords` yields them (a partial batch at the end
    is left out, as there)."""

    def __init__(self, data: bytes, start: int) -> None:
        self._batches: deque[Any] = deque()
        view, pos = memoryview(data), 0
        while len(data) - pos >= _LOG_OVERHEAD:
            (length,) = struct.unpack_from(">i", data, pos + _LENGTH_OFFSET)
            end = pos + _LOG_OVERHEAD + length
            if end > len(data):
                break
            piece, magic = view[pos:end], data[pos + _MAGIC_OFFSET]
            batch = LenientRecordBatch(piece) if magic >= 2 else LegacyRecordBatch(piece, magic)
            if batch.next_offset > start:
                self._batches.append(batch)
            pos = end

    def has_next(self) -> bool:
        return bool(self._batches)

    def next_batch(self) -> Any:
        return self._batches.popleft() if self._batches else None


class TotalPartitionRecords(fetcher.PartitionRecords):  # type: ignore[misc]  # aiokafka is Any
    """aiokafka's records of one fetched partition; when its C parser refuses a header name,
    the rest (from the batch after the last record delivered) is read by `LenientRecordBatch`."""

    def _unpack_records(self) -> Iterator[Any]:
        try:
            yield from super()._unpack_records()
        except UnicodeDecodeError:
            # The batches delivered whole end at next_fetch_offset; the failing batch's records
            # already delivered are below it, and aiokafka's loop skips them.
            kept: KeptRecords = self._records  # type: ignore[has-type]  # the fetcher's, `install`
            self._records = _LenientBatches(kept.data, self.next_fetch_offset)
            yield from super()._unpack_records()


def install() -> None:
    """Makes aiokafka's fetcher read every partition's records through `TotalPartitionRecords`
    (idempotent; the worker's app calls it)."""
    fetcher.MemoryRecords = KeptRecords
    fetcher.PartitionRecords = TotalPartitionRecords
