"""The account record and the buckets: how an account's fields are framed into one Redis value,
and which hash and sorted sets of its partition hold it (docs/redis-layout.md).

This module is the layout's one home in Python. The Lua scripts that must read the same bytes
or name the same buckets hold the only other copy (`lua/buckets.lua`, `lua/record.lua`, fed the
constants below by `streams.store.scripts`); tests/integration/store/test_lua_agrees_with_python.py
runs both on the same cases. Stored data depends on every number and byte here: changing one
moves or misreads every account.

An account is one field of its bucket hash, named by its id, whose value (the record) is a run
of entries: the entry's name, the value's length as an unsigned LEB128 varint, the value. A name
is one byte, `m` the meta or `p` the profile, or five, `s` and the 4 bytes (big-endian) of the
model id's `name_hash` for a model's state: ~13 B less per model and account than the field name
`s:<model>`. The commit merges a batch's entries into the stored record (entries it does not
name stay).
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Iterable, Mapping, Sequence

from scoring.state import StateDecodeError

# The due and ranking sorted sets of a partition are each split into this many buckets, an
# account's by `sorted_set_bucket`: a set of ~100 entries is a listpack, ~30 B an entry, where
# one set of the partition's ~25,000 was a skiplist at ~85 B (docs/redis-layout.md).
SORTED_SET_BUCKETS = 256
# The accounts of a partition live in this many hashes, an account's by `account_bucket`, one
# field per account: ~25 accounts per hash at 25,000 accounts per partition, a listpack that
# holds each account for ~115 B less than a hash of its own (its key, dict entry, field names),
# and reads it as fast (docs/redis-layout.md). A multiple of SORTED_SET_BUCKETS, with the same
# hash.
ACCOUNT_BUCKETS = 1024
# A polynomial hash of the id's bytes, modulo the largest prime under 2**32: each step stays under
# 2**53, exact in Lua's numbers (doubles). The large multiplier spreads ids that differ in their
# last characters (`acct-000001`, `acct-000002`): 25,000 such ids fill 256 buckets with 76-122.
NAME_HASH_MULTIPLIER = 1_000_003
NAME_HASH_MODULUS = 4_294_967_291

# The first byte of each kind of entry name.
MODEL_ENTRY = 0x73  # "s": a model's state; the 4 bytes of the model id's `name_hash` follow
META_ENTRY = 0x6D  # "m": the account's meta blob, shared by its models
PROFILE_ENTRY = 0x70  # "p": the stored profile (`streams.store.profiles`)

# The field names the pipeline uses for an account's entries: `m`, `p` and `s:<model>`.
META_FIELD, PROFILE_FIELD, MODEL_FIELD_PREFIX = "m", "p", "s:"


def name_hash(name: str | bytes) -> int:
    """The polynomial hash of `name`'s bytes (UTF-8 for text) behind every bucket and model
    entry name."""
    h = 0
    for byte in name.encode() if isinstance(name, str) else name:
        h = (h * NAME_HASH_MULTIPLIER + byte) % NAME_HASH_MODULUS
    return h


def sorted_set_bucket(account_id: str) -> int:
    """The bucket of the due and ranking sets that holds `account_id`."""
    return name_hash(account_id) % SORTED_SET_BUCKETS


def account_bucket(account_id: str) -> int:
    """The hash of the partition's accounts that holds `account_id` (`PartitionKeys.accounts`)."""
    return name_hash(account_id) % ACCOUNT_BUCKETS


@functools.cache
def _model_entry_name(model_id: str) -> bytes:
    return b"s" + struct.pack(">I", name_hash(model_id))


@functools.cache
def record_name(field_name: str) -> bytes:
    """The record's name for a field the pipeline names: `m`, `p` or `s:<model>`."""
    if field_name.startswith(MODEL_FIELD_PREFIX):
        return _model_entry_name(field_name[len(MODEL_FIELD_PREFIX) :])
    if field_name in (META_FIELD, PROFILE_FIELD):
        return field_name.encode()
    raise ValueError(f"an account record has no field {field_name!r}: only m, p and s:<model>")


def check_record_names(model_ids: Sequence[str]) -> None:
    """ValueError when two of the models would share a record name (their 4-byte hash): each
    would overwrite the other's state."""
    seen: dict[bytes, str] = {}
    for model in model_ids:
        name = _model_entry_name(model)
        if name in seen and seen[name] != model:
            raise ValueError(
                f"models {seen[name]!r} and {model!r} share the record name {name!r}: "
                "rename one of them"
            )
        seen[name] = model


def _put_entry(out: bytearray, name: bytes, value: bytes) -> None:
    out += name
    length = len(value)
    while length >= 0x80:
        out.append(length & 0x7F | 0x80)
        length >>= 7
    out.append(length)
    out += value


def pack_record(entries: Mapping[bytes, bytes]) -> bytes:
    """A record of `entries` (record name -> value), in their order."""
    out = bytearray()
    for name, value in entries.items():
        _put_entry(out, name, value)
    return bytes(out)


def pack_account_record(meta: bytes | None, model_blobs: Iterable[tuple[str, bytes]]) -> bytes:
    """The record of one account's dumped state: its meta blob (`m`, left out when None: a write
    of some models' states only), then each (model id, state blob) in the order given, as
    `pack_record` frames them."""
    out = bytearray()
    if meta is not None:
        _put_entry(out, b"m", meta)
    for model_id, blob in model_blobs:
        _put_entry(out, _model_entry_name(model_id), blob)
    return bytes(out)


def split_record(record: bytes) -> dict[bytes, bytes]:
    """The entries of a record (record name -> value); `StateDecodeError` when it is cut short
    or holds a name no version writes (a later version's kind of entry stops this one)."""
    entries = {}
    at, end = 0, len(record)
    try:
        while at < end:
            tag = record[at]
            if tag not in (MODEL_ENTRY, META_ENTRY, PROFILE_ENTRY):
                raise StateDecodeError(f"corrupt account record: entry name {tag:#04x} at {at}")
            size = 5 if tag == MODEL_ENTRY else 1
            name = record[at : at + size]
            at += size
            length = shift = 0
            while True:
                byte = record[at]
                at += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            if len(name) != size or at + length > end:
                raise IndexError(at)
            entries[name] = record[at : at + length]
            at += length
    except IndexError as err:
        raise StateDecodeError(f"corrupt account record: cut short at byte {at}") from err
    return entries
