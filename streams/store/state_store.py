"""Account state in Redis: one fenced, atomic write per batch (see docs/redis-layout.md).

Every key of a partition carries the hash tag `{<prefix>:p<partition>}`, so all of it lives in
one slot of a Redis Cluster and the batch commit can be a single Lua script. Accounts belong to
exactly one partition of the events topic (events are keyed by account_id), so "work partition-
owned" and "keys slot-safe" are the same thing.

The commit writes, atomically: the batch's account states, the partition's applied offset, the
batch's score-change events into the partition's outbox, and the accounts' places in the decay
schedule, and only while the caller still holds the partition's fence. A worker takes the fence
when it is assigned the partition (a new token each time), so a worker that lost the partition
(rebalance, long pause) can no longer write: its commit returns `Fenced`.
"""

from __future__ import annotations

import functools
import math
import random
import re
import struct
import uuid
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import hiredis
import orjson
import redis.asyncio as aioredis
from redis.connection import HiredisRespSerializer
from redis.typing import EncodableT, FieldT

from scoring.state import StateDecodeError

# The due and ranking sorted sets of a partition are each split into this many buckets, an
# account's by `sorted_set_bucket`: a set of ~100 entries is a listpack, ~30 B an entry, where
# one set of the partition's ~25,000 was a skiplist at ~85 B (docs/redis-layout.md). Stored
# data depends on this number and on the hash: changing either moves every account.
SORTED_SET_BUCKETS = 256
# The accounts of a partition live in this many hashes, an account's by `account_bucket`, one
# field per account: ~25 accounts per hash at 25,000 accounts per partition, a listpack that
# holds each account for ~115 B less than a hash of its own (its key, dict entry, field names),
# and reads it as fast (docs/redis-layout.md). A multiple of SORTED_SET_BUCKETS, with the same
# hash. Stored data depends on this number: changing it moves every account.
ACCOUNT_BUCKETS = 1024
# The value of `PartitionKeys.layout` once a partition's accounts are all in the account hashes.
ACCOUNTS_MOVED = "accounts in buckets"
# A polynomial hash of the id's bytes, modulo the largest prime under 2**32: each step stays under
# 2**53, exact in Lua's numbers (doubles). The large multiplier spreads ids that differ in their
# last characters (`acct-000001`, `acct-000002`): 25,000 such ids fill 256 buckets with 76-122.
_BUCKET_MULTIPLIER = 1_000_003
_BUCKET_MODULUS = 4_294_967_291

# `name_hash` and the buckets in Lua, for the scripts that name an account's keys themselves;
# an account's hash is computed once per script call.
_LUA_BUCKET = f"""
local function name_hash(name)
  local h = 0
  for i = 1, #name do
    h = (h * {_BUCKET_MULTIPLIER} + string.byte(name, i)) % {_BUCKET_MODULUS}
  end
  return h
end
local hash_of = {{}}
local function account_hash(account)
  local found = hash_of[account]
  if found == nil then
    found = name_hash(account)
    hash_of[account] = found
  end
  return found
end
local function bucket(account)
  return account_hash(account) % {SORTED_SET_BUCKETS}
end
local function account_bucket(account)
  return account_hash(account) % {ACCOUNT_BUCKETS}
end
"""


def name_hash(name: str | bytes) -> int:
    """The polynomial hash of `name`'s bytes behind every bucket (Lua's `name_hash`)."""
    h = 0
    for byte in name.encode() if isinstance(name, str) else name:
        h = (h * _BUCKET_MULTIPLIER + byte) % _BUCKET_MODULUS
    return h


def sorted_set_bucket(account_id: str) -> int:
    """The bucket of the due and ranking sets that holds `account_id`: the Python twin of
    `_LUA_BUCKET` (the scripts name buckets themselves), for tests and tools."""
    return name_hash(account_id) % SORTED_SET_BUCKETS


def account_bucket(account_id: str) -> int:
    """The hash of the partition's accounts that holds `account_id` (`PartitionKeys.accounts`)."""
    return name_hash(account_id) % ACCOUNT_BUCKETS


# --- account records --------------------------------------------------------------------------
# An account is one field of its bucket hash, its id, whose value (the record) holds what a hash
# of its own held as fields, as entries: the entry's name, the value's length as an unsigned
# LEB128 varint, the value. A name is one byte, `m` the meta or `p` the profile, or five, `s` and
# the 4 bytes (big-endian) of the model id's `name_hash` for a model's state: ~13 B less per
# model and account than the field name `s:<model>`. The commit script merges a batch's entries
# into the stored record (entries it does not name stay); `_LUA_RECORD` is the Lua side.
_MODEL_FIELD_PREFIX = "s:"
_MODEL_ENTRY = 0x73  # "s": a model's state, 4 bytes of name follow
_META_ENTRY, _PROFILE_ENTRY = 0x6D, 0x70  # "m", "p"


@functools.cache
def record_name(field_name: str) -> bytes:
    """The record's name for a field the pipeline names: `m`, `p` or `s:<model>`."""
    if field_name.startswith(_MODEL_FIELD_PREFIX):
        return b"s" + struct.pack(">I", name_hash(field_name[len(_MODEL_FIELD_PREFIX) :]))
    if field_name in ("m", "p"):
        return field_name.encode()
    raise ValueError(f"an account record has no field {field_name!r}: only m, p and s:<model>")


def check_record_names(model_ids: Sequence[str]) -> None:
    """ValueError when two of the models would share a record name (their 4-byte hash): each
    would overwrite the other's state."""
    seen: dict[bytes, str] = {}
    for model in model_ids:
        name = record_name(f"{_MODEL_FIELD_PREFIX}{model}")
        if name in seen and seen[name] != model:
            raise ValueError(
                f"models {seen[name]!r} and {model!r} share the record name {name!r}: "
                "rename one of them"
            )
        seen[name] = model


def pack_record(entries: Mapping[bytes, bytes]) -> bytes:
    """A record of `entries` (record name -> value), in their order."""
    out = bytearray()
    for name, value in entries.items():
        out += name
        length = len(value)
        while length >= 0x80:
            out.append(length & 0x7F | 0x80)
            length >>= 7
        out.append(length)
        out += value
    return bytes(out)


def split_record(record: bytes) -> dict[bytes, bytes]:
    """The entries of a record (record name -> value); `StateDecodeError` when it is cut short
    or holds a name no version writes (a later version's kind of entry stops this one)."""
    entries = {}
    at, end = 0, len(record)
    try:
        while at < end:
            tag = record[at]
            if tag not in (_MODEL_ENTRY, _META_ENTRY, _PROFILE_ENTRY):
                raise StateDecodeError(f"corrupt account record: entry name {tag:#04x} at {at}")
            size = 5 if tag == _MODEL_ENTRY else 1
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


# Records in Lua. `merged_record`: the entries of a stored record that the set `names` does not
# name, in order, then `written` (entries already in record form); nil when the stored record is
# cut short or holds a name no version writes. It walks the entries without copying them: the
# kept ones are copied as runs. `record_entry`: one entry's bytes. A stored record is read before
# the script writes anything, so a corrupt one fails it whole.
_LUA_RECORD = f"""
local function merged_record(stored, names, written)
  local parts, run, at, size = {{}}, nil, 1, #stored
  while at <= size do
    local from = at
    local tag, b1, b2, b3, b4, b5, b6, b7 = string.byte(stored, at, at + 7)
    local name
    local length
    if tag == {_MODEL_ENTRY} then
      name, at, b1, b2, b3 = string.sub(stored, at, at + 4), at + 5, b5, b6, b7
    elseif tag == {_META_ENTRY} or tag == {_PROFILE_ENTRY} then
      name, at = string.char(tag), at + 1
    else
      return nil
    end
    if b1 == nil then
      return nil
    elseif b1 < 128 then
      length, at = b1, at + 1
    elseif b2 ~= nil and b2 < 128 then
      length, at = b1 - 128 + b2 * 128, at + 2
    else
      -- 3 bytes or more (16 KB or more): the general loop
      length, at = 0, at
      local scale, byte = 1, 128
      while byte >= 128 do
        byte = string.byte(stored, at)
        if byte == nil then
          return nil
        end
        length, scale, at = length + (byte % 128) * scale, scale * 128, at + 1
      end
    end
    at = at + length
    if at - 1 > size then
      return nil
    end
    if names[name] then
      if run then
        parts[#parts + 1] = string.sub(stored, run, from - 1)
        run = nil
      end
    elseif not run then
      run = from
    end
  end
  if run then
    parts[#parts + 1] = string.sub(stored, run, size)
  end
  parts[#parts + 1] = written
  return table.concat(parts)
end
local function record_entry(name, value)
  local n, head = #value, {{}}
  while n >= 128 do
    head[#head + 1] = n % 128 + 128
    n = math.floor(n / 128)
  end
  head[#head + 1] = n
  return name .. string.char(unpack(head)) .. value
end
"""


# KEYS: fence, offset, outbox
# ARGV: token, applied offset ('' when the write consumes no offset: sweep, rescore),
#       n_accounts, n_outbox, the account hashes' name without the bucket (`{P}:accounts:`),
#       n_shapes, then per shape (the record names of the fields some accounts write): n_fields,
#       names...; the accounts' shapes as one string, <H shape (1-based) per account;
#       per account, its id and its shape's entries in record form (`pack_record`);
#       outbox payloads;
#       n_others, then the ids of accounts that due or ranks name but that are not written;
#       the due sets' name without the bucket (`{P}:due:`), then due as two strings: <I4 member
#       per entry, <d time per entry (NaN: unschedule);
#       n_models, then per model: n_tiers, each tier's ranking sets' name without the bucket
#       (`{P}:ranking:<model>:<tier>:`, highest tier first), and its entries as four strings:
#       <I4 member, tier index (a byte), previous tier index (a byte, 255 = unknown), <d total.
# A member is an account by number: the written accounts in order, then the others. Numbers
# travel packed, a few arguments per batch rather than several per account: each argument costs
# the worker ~0.65 µs to pack and Redis one to parse (docs/benchmarks.md). Redis passes a Lua
# number on with 17 significant digits: exact.
# The script names each account's hash, due and ranking buckets itself (as BullMQ's scripts name
# their keys): every bucket carries the partition's hash tag, so it is in the same Cluster slot.
# It reads every stored record it merges into and builds every new one before it writes
# anything: a corrupt record fails the script before its first write (Redis does not undo a
# script's writes).
COMMIT_SCRIPT = (
    _LUA_BUCKET
    + _LUA_RECORD
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] ~= '' then
  local current = tonumber(redis.call('GET', KEYS[2]) or '-1')
  if tonumber(ARGV[2]) <= current then
    return -1
  end
end
local n_accounts, n_outbox = tonumber(ARGV[3]), tonumber(ARGV[4])
local accounts = ARGV[5]
local shapes = {}
local at = 7
for s = 1, tonumber(ARGV[6]) do
  local names = {}
  for j = 1, tonumber(ARGV[at]) do
    names[j] = ARGV[at + j]
  end
  at = at + #names + 1
  shapes[s] = names
end
local record_shapes = ARGV[at]
at = at + 1
local shape_names = {}
for s, names in ipairs(shapes) do
  shape_names[s] = {}
  for _, name in ipairs(names) do
    shape_names[s][name] = true
  end
end
-- latest: an account's record as merged so far in this batch (an account written twice merges
-- its second write into its first); only that last record is written.
local members, records, latest = {}, {}, {}
for i = 1, n_accounts do
  local account, write = ARGV[at], ARGV[at + 1]
  at = at + 2
  members[i] = account
  local shape = struct.unpack('<H', record_shapes, 2 * i - 1)
  if #shapes[shape] > 0 then
    local stored = latest[account]
    if stored == nil then
      stored = redis.call('HGET', accounts .. account_bucket(account), account)
    end
    records[i] = write
    if stored then
      records[i] = merged_record(stored, shape_names[shape], write)
      if records[i] == nil then
        return redis.error_reply('corrupt account record: ' .. account)
      end
    end
    latest[account] = records[i]
  end
end
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[2], ARGV[2])
end
for i = 1, n_accounts do
  if records[i] and latest[members[i]] == records[i] then
    redis.call('HSET', accounts .. account_bucket(members[i]), members[i], records[i])
    latest[members[i]] = nil
  end
end
for i = 1, n_outbox do
  redis.call('RPUSH', KEYS[3], ARGV[at])
  at = at + 1
end
for i = 1, tonumber(ARGV[at]) do
  members[n_accounts + i] = ARGV[at + i]
end
at = at + tonumber(ARGV[at]) + 1
local due_sets, due_members, due_times = ARGV[at], ARGV[at + 1], ARGV[at + 2]
at = at + 3
for e = 1, #due_times / 8 do
  local account = members[struct.unpack('<I4', due_members, 4 * e - 3)]
  local due = struct.unpack('<d', due_times, 8 * e - 7)
  if due ~= due then
    redis.call('ZREM', due_sets .. bucket(account), account)
  else
    redis.call('ZADD', due_sets .. bucket(account), due, account)
  end
end
local n_models = tonumber(ARGV[at])
at = at + 1
for m = 1, n_models do
  local n_tiers = tonumber(ARGV[at])
  local sets = {}  -- by tier index, from 0
  for t = 0, n_tiers - 1 do
    sets[t] = ARGV[at + 1 + t]
  end
  at = at + n_tiers + 1
  local ranked, tiers = ARGV[at], ARGV[at + 1]
  local previous_tiers, totals = ARGV[at + 2], ARGV[at + 3]
  at = at + 4
  for e = 1, #tiers do
    local account = members[struct.unpack('<I4', ranked, 4 * e - 3)]
    local b = bucket(account)
    local tier, previous = string.byte(tiers, e), string.byte(previous_tiers, e)
    if previous == 255 then
      for t = 0, n_tiers - 1 do
        if t ~= tier then
          redis.call('ZREM', sets[t] .. b, account)
        end
      end
    elseif previous ~= tier then
      redis.call('ZREM', sets[previous] .. b, account)
    end
    -- The total rounded down to 1/16 point: a short score in the listpack (~11 B less than a
    -- double's 17 digits), still below the next tier's min, still the order reps care about.
    local total = struct.unpack('<d', totals, 8 * e - 7)
    redis.call('ZADD', sets[tier] .. b, math.floor(total * 16) / 16, account)
  end
end
return 1
"""
)

# KEYS: the fence (not read: it routes the call to the partition's Cluster node); ARGV: the
# account hashes' name without the bucket, then the account ids. Returns each account's record,
# nil for an account not stored. One reply for the whole batch: redis-py handles a pipelined
# command per account in Python (command object, reply callback), which cost the worker ~17 µs
# per account read.
READ_SCRIPT = (
    _LUA_BUCKET
    + """
local out = {}
for i = 2, #ARGV do
  out[i - 1] = redis.call('HGET', ARGV[1] .. account_bucket(ARGV[i]), ARGV[i])
end
return out
"""
)

# KEYS: fence, outbox; ARGV: token, count
TRIM_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('LTRIM', KEYS[2], tonumber(ARGV[2]), -1)
return 1
"""

# The queries below read every bucket of a partition's sets in one call. KEYS: the fence (not
# read: it routes the call to the partition's Cluster node).

# The top's ties go by member, in byte order: Lua's own `<` on strings follows the locale.
_LUA_BYTES_BEFORE = """
local function bytes_before(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then
      return x < y
    end
  end
  return #a < #b
end
"""

# KEYS (besides the fence): the partition's rescored versions. ARGV: limit (at least 1), the
# versions the ceilings hold for ('' for none), then per tier, highest first: its ranking sets'
# name without the bucket (`PartitionKeys.ranking_sets`) and its ceiling ('' for none). Returns
# member, total, member, total... highest total first, ties by member. It keeps the best `limit`
# as it goes: past 2 x limit it prunes and reads the next buckets only above the limit-th, so it
# reads about `limit` entries per set, not the set; and, when the partition is rescored to the
# versions given, it skips a tier whose ceiling the limit-th reaches.
# A bucket's reply cut at `limit` may split the members of its last total (Redis orders them
# backwards here): all of that total's are read.
TOP_SCRIPT = (
    _LUA_BYTES_BEFORE
    + f"""
local limit = tonumber(ARGV[1])
local trusted = ARGV[2] ~= '' and redis.call('GET', KEYS[2]) == ARGV[2]
local best, floor = {{}}, '-inf'
local function higher(x, y)
  if x[2] ~= y[2] then
    return x[2] > y[2]
  end
  return bytes_before(x[1], y[1])
end
local function prune()
  table.sort(best, higher)
  for i = #best, limit + 1, -1 do
    best[i] = nil
  end
  floor = best[limit][3]
end
for s = 3, #ARGV, 2 do
  local ceiling = ARGV[s + 1]
  if #best >= limit then
    prune()
  end
  local beaten = trusted and ceiling ~= '' and #best >= limit
    and tonumber(floor) >= tonumber(ceiling)
  for b = 0, beaten and -1 or {SORTED_SET_BUCKETS - 1} do
    local key = ARGV[s] .. b
    local found = redis.call('ZREVRANGEBYSCORE', key, '+inf', floor, 'WITHSCORES', 'LIMIT', 0,
      limit)
    local last = #found == 2 * limit and found[#found] or nil
    for i = 1, #found, 2 do
      if found[i + 1] ~= last then
        best[#best + 1] = {{found[i], tonumber(found[i + 1]), found[i + 1]}}
      end
    end
    if last then
      local tied = redis.call('ZRANGEBYSCORE', key, last, last)
      for i = 1, #tied do
        best[#best + 1] = {{tied[i], tonumber(last), last}}
      end
    end
    if #best >= 2 * limit then
      prune()
    end
  end
end
table.sort(best, higher)
local out = {{}}
for i = 1, math.min(limit, #best) do
  out[2 * i - 1], out[2 * i] = best[i][1], best[i][3]
end
return out
"""
)

# ARGV: the due sets' name without the bucket, until, limit (at least 1), the first bucket to
# read. Returns members due at or before `until`, at most `limit`, bucket by bucket from the first:
# not the earliest of them (the sweep evaluates every due account at the same time, so their
# order does not matter), which saves sorting thousands in Lua when many are due.
DUE_SCRIPT = f"""
local sets, latest, limit, first = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {{}}
for i = 0, {SORTED_SET_BUCKETS - 1} do
  local b = (first + i) % {SORTED_SET_BUCKETS}
  local found = redis.call('ZRANGEBYSCORE', sets .. b, '-inf', latest, 'LIMIT', 0, limit - #out)
  for j = 1, #found do
    out[#out + 1] = found[j]
  end
  if #out >= limit then
    break
  end
end
return out
"""

# ARGV: the ranking sets' names without the bucket. Returns each one's entries over its buckets.
COUNT_SCRIPT = f"""
local counts = {{}}
for s = 1, #ARGV do
  local n = 0
  for b = 0, {SORTED_SET_BUCKETS - 1} do
    n = n + redis.call('ZCARD', ARGV[s] .. b)
  end
  counts[s] = n
end
return counts
"""

# Moves up to `chunk` entries of each sorted set that versions before 2026-12-02 kept whole into
# the buckets. KEYS: fence, the whole due set, the whole ranking sets (model by model, its tiers in
# order). ARGV: token, chunk, the due sets' name without the bucket, n_models, then per model:
# n_tiers and each tier's ranking sets' name without the bucket. A whole set's entry wins over
# the account's in the buckets: every worker of this version empties the whole sets before its
# first commit, so one that is there was written since, by a worker of an earlier version. So
# its due time replaces the bucket's, and its ranking takes the account out of the model's other
# tiers. Returns the entries taken, -1 when fenced.
MOVE_WHOLE_SETS_SCRIPT = (
    _LUA_BUCKET
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local chunk = tonumber(ARGV[2])
local taken = 0
local function take(key)
  local entries = redis.call('ZRANGE', key, 0, chunk - 1, 'WITHSCORES')
  if #entries > 0 then
    redis.call('ZREMRANGEBYRANK', key, 0, #entries / 2 - 1)
  end
  taken = taken + #entries / 2
  return entries
end
local entries = take(KEYS[2])
for i = 1, #entries, 2 do
  redis.call('ZADD', ARGV[3] .. bucket(entries[i]), entries[i + 1], entries[i])
end
local at, k = 5, 3
for m = 1, tonumber(ARGV[4]) do
  local n_tiers = tonumber(ARGV[at])
  local sets = {}
  for t = 1, n_tiers do
    sets[t] = ARGV[at + t]
  end
  at = at + n_tiers + 1
  for t = 1, n_tiers do
    entries = take(KEYS[k])
    k = k + 1
    for i = 1, #entries, 2 do
      local account = entries[i]
      local b = bucket(account)
      for u = 1, n_tiers do
        if u ~= t then
          redis.call('ZREM', sets[u] .. b, account)
        end
      end
      redis.call('ZADD', sets[t] .. b, entries[i + 1], account)
    end
  end
end
return taken
"""
)

# Moves accounts that versions before 2026-12-02 17:00 kept in a hash each (`{P}:a:<id>`, fields
# `m`, `p`, `s:<model>`) into the account hashes, and deletes them. KEYS: fence, the accounts'
# old hashes. ARGV: token, the length in bytes of the old hashes' name before the id (`{P}:a:`),
# the account hashes' name without the bucket. An old hash's fields win over entries of the
# account's record (none, unless a worker of an earlier version wrote the account after a move:
# not supported, docs/redis-layout.md). Returns the accounts moved, -1 when fenced.
MOVE_ACCOUNT_HASHES_SCRIPT = (
    _LUA_BUCKET
    + _LUA_RECORD
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local prefix_length, accounts = tonumber(ARGV[2]), ARGV[3]
local moves = {}
for i = 2, #KEYS do
  local fields = redis.call('HGETALL', KEYS[i])
  if #fields > 0 then
    local account = string.sub(KEYS[i], prefix_length + 1)
    local key = accounts .. account_bucket(account)
    local stored = redis.call('HGET', key, account)
    local names, parts = {}, {}
    for j = 1, #fields, 2 do
      local name = fields[j]
      if string.sub(name, 1, 2) == 's:' then
        name = 's' .. struct.pack('>I4', name_hash(string.sub(name, 3)))
      elseif name ~= 'm' and name ~= 'p' then
        return redis.error_reply('unknown field ' .. name .. ' in ' .. KEYS[i])
      end
      names[name] = true
      parts[#parts + 1] = record_entry(name, fields[j + 1])
    end
    local record = merged_record(stored or '', names, table.concat(parts))
    if record == nil then
      return redis.error_reply('corrupt account record: ' .. account)
    end
    moves[#moves + 1] = {KEYS[i], key, account, record}
  end
end
for _, move in ipairs(moves) do
  redis.call('HSET', move[2], move[3], move[4])
  redis.call('DEL', move[1])
end
return #moves
"""
)

# KEYS: the partition's rescored versions; ARGV: versions. Forgets them unless they are these.
FORGET_OTHER_VERSIONS_SCRIPT = """
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""


# The stored profile (record entry `p`) is deflated with this preset dictionary: the keys and
# shape of account-profile.v1, no customer data. A typical ~350 B profile is stored in ~140 B;
# compressing costs ~9 µs per profile written, inflating ~3 µs per account read. Stored blobs
# depend on these exact bytes: a different dictionary needs a new format byte.
PROFILE_DICTIONARY = (
    b'{"account_id":"","updated_at":"2026-01-01T00:00:00Z","name":"","domains":[".com"],'
    b'"industry":"","employees":,"annual_revenue":,"country":"","technologies":[""],'
    b'"owner":{"id":"","name":"","email":"@","slack":"@"},"customer":false,true,null}'
)
# Format bytes; a stored JSON profile (older data) starts with "{" after JSON whitespace.
_DEFLATED_PROFILE = b"\x01"
# Deflated without its first member, `"account_id":<id>`, which the account's field names: ~10 B
# less per account. Used when the message starts with exactly that member (as the schema's
# examples and `orjson.dumps` of a profile with it first do); any other is stored whole.
_DEFLATED_PROFILE_WITHOUT_ID = b"\x02"


def _id_member(account_id: str) -> bytes:
    return b'{"account_id":' + orjson.dumps(account_id) + b","


def _deflated(raw: bytes) -> bytes:
    # A 1 KB window and memLevel 2: a profile is small, and a bigger window only costs set-up.
    deflate = zlib.compressobj(
        6, zlib.DEFLATED, -10, 2, zlib.Z_DEFAULT_STRATEGY, PROFILE_DICTIONARY
    )
    return deflate.compress(raw) + deflate.flush()


def pack_profile(raw: bytes, account_id: str) -> bytes:
    """A profile message's bytes as stored for `account_id`: deflated with `PROFILE_DICTIONARY`,
    without its leading `account_id` member when it has one."""
    head = _id_member(account_id)
    if raw.startswith(head):
        return _DEFLATED_PROFILE_WITHOUT_ID + _deflated(b"{" + raw[len(head) :])
    return _DEFLATED_PROFILE + _deflated(raw)


def unpack_profile(stored: bytes, account_id: str) -> bytes:
    """Inverse of `pack_profile`, byte for byte; plain JSON passes through. Raises
    `StateDecodeError`, also for a format byte it does not know: a later version's format must
    stop this one, never be read as a missing profile."""
    without_id = stored.startswith(_DEFLATED_PROFILE_WITHOUT_ID)
    if not (without_id or stored.startswith(_DEFLATED_PROFILE)):
        if stored.lstrip(b" \t\r\n").startswith(b"{"):
            return stored
        raise StateDecodeError(f"unknown stored-profile format {stored[:1]!r}")
    inflate = zlib.decompressobj(-10, zdict=PROFILE_DICTIONARY)
    try:
        raw = inflate.decompress(stored[1:]) + inflate.flush()
    except zlib.error as err:
        raise StateDecodeError(f"corrupt stored profile: {err}") from err
    if not inflate.eof:
        raise StateDecodeError("corrupt stored profile: truncated")
    if without_id:
        if not raw.startswith(b"{"):
            raise StateDecodeError("corrupt stored profile: no object")
        return _id_member(account_id) + raw[1:]
    return raw


class _HiredisPacking:
    """Packs commands with hiredis (C) rather than redis-py's pure-Python packer.

    redis-py's asyncio connections always pack in Python (its sync client uses hiredis when
    installed); with the ~20 arguments per account a batch commit once sent, that packer was
    the worker's top entry in the profile (docs/benchmarks.md). Same bytes on the wire.
    """

    _serializer = HiredisRespSerializer()

    def pack_command(self, *args: object) -> list[bytes]:
        # hiredis directly for the usual command (name without spaces, no bytearray or
        # memoryview arguments): redis-py's wrapper walks every argument in Python first, ~10 µs
        # per account of a batch commit. Anything else goes through the wrapper.
        command = args[0]
        plain = (isinstance(command, str) and " " not in command) or (
            isinstance(command, bytes) and b" " not in command
        )
        if plain:
            try:
                return [hiredis.pack_command(args)]  # type: ignore[arg-type]  # TypeError below
            except TypeError:
                pass
        return self._serializer.pack(*args)  # type: ignore[arg-type, no-any-return]


def connect_redis(url: str) -> aioredis.Redis:
    """A client for `url` (any scheme redis-py takes) whose connections pack with hiredis."""
    pool = aioredis.ConnectionPool.from_url(url)
    base = pool.connection_class
    pool.connection_class = type(f"Hiredis{base.__name__}", (_HiredisPacking, base), {})
    return aioredis.Redis.from_pool(pool)


# Hashes of the domain map. crc32, not murmur2: the partition already is murmur2 of the account.
# Stored data depends on this number: changing it moves every domain to another hash.
DOMAIN_BUCKETS = 4096

UNKNOWN_TIER = 255  # a previous tier the commit does not know: every other tier's set is cleared


def _packed(code: str, values: Sequence[int] | Sequence[float]) -> bytes:
    """`values` as one little-endian string of struct `code` items, for the commit script."""
    return struct.pack(f"<{len(values)}{code}", *values)


def _unpacked(code: str, packed: bytes) -> tuple[int, ...]:
    """`packed`'s whole items of struct `code` (little-endian)."""
    size = struct.calcsize(code)
    return struct.unpack(f"<{len(packed) // size}{code}", packed[: len(packed) // size * size])


def _within(numbers: Sequence[int], most: int) -> bool:
    """All of `numbers` are in 1..most (member and shape numbers count from 1)."""
    return not numbers or (min(numbers) >= 1 and max(numbers) <= most)


def _check_tier_count(model: str, tiers: Sequence[str]) -> None:
    if len(tiers) >= UNKNOWN_TIER:
        most = UNKNOWN_TIER - 1
        raise ValueError(f"model {model!r} has {len(tiers)} tiers; at most {most} are stored")


def _text(value: bytes | str) -> str:
    # The client returns bytes (no decode_responses: state blobs are binary).
    return value.decode() if isinstance(value, bytes) else value


def _glob_escaped(text: str) -> str:
    """`text` as a literal in a SCAN pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _raw(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


@dataclass(frozen=True, slots=True)
class Committed:
    """The batch is in Redis."""


@dataclass(frozen=True, slots=True)
class Fenced:
    """Another worker owns the partition now; nothing was written."""


@dataclass(frozen=True, slots=True)
class AlreadyApplied:
    """The partition's applied offset is already at or past this batch; nothing was written."""


CommitResult = Committed | Fenced | AlreadyApplied


@dataclass(slots=True)
class AccountWrite:
    """The fields of one account to write (meta `m`, profile `p`, one blob per model
    `s:<model>`), each an entry of the account's record."""

    account_id: str
    fields: dict[str, bytes] = field(default_factory=dict)


# A value: treat it as one. Not frozen because a frozen dataclass's __init__ sets each field
# through object.__setattr__, ~0.9 µs against ~0.25, and a commit packed by account
# (`CommitBatch.of`: profile batches) builds one Rank per account and model.
@dataclass(slots=True)
class Rank:
    """An account's place in its model's ranking: in the set of its tier, by total."""

    account_id: str
    model: str
    tiers: tuple[str, ...]  # the model's tiers, highest first
    tier: str
    total: float
    # The tier whose set holds the account now (its tier when loaded), so only that set is
    # touched; None when unknown (e.g. a model version renamed tiers): every other set is.
    previous_tier: str | None = None


@dataclass(frozen=True, slots=True)
class Ranking:
    """One model's ranking entries of a batch, columnar (see `CommitBatch`): entry i puts
    member i in the set of tier `tiers[tier_indexes[i]]`, by `totals[i]`."""

    model: str
    tiers: tuple[str, ...]  # the model's tiers, highest first; at most 254
    tier_indexes: bytes  # a byte per entry
    # A byte per entry: the tier whose set holds the account now (its tier when loaded), so
    # only that set is touched; 255 when unknown (e.g. a model version renamed tiers): every
    # other set is.
    previous_indexes: bytes
    totals: bytes  # <d per entry
    members: bytes | None = None  # <I4 member per entry; None: the written accounts in order


@dataclass(frozen=True, slots=True)
class WrittenGroup:
    """Accounts that write the same fields, in order, with a due time each (`<d`, NaN
    unschedules) and their rankings (whose members are these accounts in order: None)."""

    accounts: Sequence[str]
    fields: tuple[str, ...]
    records: Sequence[bytes]  # per account: its fields as record entries (`pack_record`)
    due_times: bytes
    rankings: Sequence[Ranking]


@dataclass(frozen=True, slots=True)
class CommitBatch:
    """One batch's account writes, due times and ranking entries as the commit script takes
    them: packed, a few strings per batch rather than several objects per account.

    Accounts are named by member number: `accounts` (written, in order) are 1..n, `others`
    (named by due times or ranks only) n+1 on. `CommitBatch.of` builds one from per-account
    values, `CommitBatch.of_groups` from groups of accounts packed alike (the pipeline's, from
    `Engine.dump_many`).
    """

    accounts: Sequence[str]
    shapes: Sequence[tuple[str, ...]]  # the field names some accounts write
    record_shapes: bytes  # <H per account: its shape (1-based)
    records: Sequence[bytes]  # per account: its shape's fields as record entries (`pack_record`)
    due_times: bytes = b""  # <d per entry; NaN unschedules the account
    due_members: bytes | None = None  # <I4 per entry; None: the written accounts in order
    rankings: Sequence[Ranking] = ()
    others: Sequence[str] = ()

    @classmethod
    def of_groups(cls, groups: Sequence[WrittenGroup]) -> CommitBatch:
        """The batch of these groups' accounts, in order (the pipeline's, from
        `Engine.dump_many`: a call per group)."""
        groups = [group for group in groups if group.accounts]
        for group in groups:
            n = len(group.accounts)
            if (
                len(group.records) != n
                or len(group.due_times) != 8 * n
                or any(r.members is not None or len(r.tier_indexes) != n for r in group.rankings)
            ):
                raise ValueError("a group's columns must name each of its accounts once, in order")
        if len(groups) == 1:  # every ranking names every account in order: no member numbers
            (only,) = groups
            return cls(
                only.accounts,
                [only.fields],
                _packed("H", [1] * len(only.accounts)),
                only.records,
                only.due_times,
                None,
                only.rankings,
            )
        accounts: list[str] = []
        records: list[bytes] = []
        record_shapes: list[int] = []
        by_model: dict[str, list[tuple[int, Ranking]]] = {}
        for shape, group in enumerate(groups, start=1):
            for ranking in group.rankings:
                by_model.setdefault(ranking.model, []).append((len(accounts) + 1, ranking))
            accounts.extend(group.accounts)
            records.extend(group.records)
            record_shapes.extend([shape] * len(group.accounts))
        rankings = [
            Ranking(
                model,
                parts[0][1].tiers,
                b"".join(ranking.tier_indexes for _, ranking in parts),
                b"".join(ranking.previous_indexes for _, ranking in parts),
                b"".join(ranking.totals for _, ranking in parts),
                _packed(
                    "I",
                    [
                        number
                        for first, ranking in parts
                        for number in range(first, first + len(ranking.tier_indexes))
                    ],
                ),
            )
            for model, parts in by_model.items()
        ]
        return cls(
            accounts,
            [group.fields for group in groups],
            _packed("H", record_shapes),
            records,
            b"".join(group.due_times for group in groups),
            None,
            rankings,
        )

    def check(self) -> None:
        """Raises ValueError unless the columns agree in length and range: a script that failed
        halfway through would leave what it wrote before (Redis does not undo a script's
        writes). Per batch, not per entry: the scans are min/max in C."""
        n = len(self.accounts)
        entries = n if self.due_members is None else len(self.due_members) // 4
        problems = [
            len(self.records) != n,
            len(self.record_shapes) != 2 * n,
            not _within(_unpacked("H", self.record_shapes), len(self.shapes)),
            len(self.due_times) != 8 * entries,
            self.due_members is not None and len(self.due_members) != 4 * entries,
        ]
        members = n + len(self.others)
        if self.due_members is not None:
            problems.append(not _within(_unpacked("I", self.due_members), members))
        for ranking in self.rankings:
            count = len(ranking.tier_indexes)
            problems += [
                len(ranking.previous_indexes) != count,
                len(ranking.totals) != 8 * count,
                max(ranking.tier_indexes, default=0) >= len(ranking.tiers),
            ]
            if ranking.members is None:
                problems.append(count != n)
            else:
                problems.append(len(ranking.members) != 4 * count)
                problems.append(not _within(_unpacked("I", ranking.members), members))
        if any(problems):
            raise ValueError("the commit batch's packed columns do not agree in length or range")

    @classmethod
    def of(
        cls,
        accounts: Sequence[AccountWrite],
        due: Mapping[str, float | None],
        ranks: Sequence[Rank] = (),
    ) -> CommitBatch:
        """The batch of these writes; `due` maps an account to the time its next tier drop is
        due, or None to unschedule it; `ranks` puts each account in the ranking set of its tier
        (and out of the others)."""
        if any(math.isnan(when) for when in due.values() if when is not None):
            raise ValueError("a due time is NaN; None unschedules an account")
        # Field-name tuple -> shape number.
        shapes: dict[tuple[str, ...], int] = {}
        record_shapes: list[int] = []
        records: list[bytes] = []
        members: dict[str, int] = {}
        for number, write in enumerate(accounts, start=1):
            names = tuple(write.fields)
            shape = shapes.get(names)
            if shape is None:
                shape = shapes[names] = len(shapes) + 1
            record_shapes.append(shape)
            records.append(pack_record({record_name(n): v for n, v in write.fields.items()}))
            members.setdefault(write.account_id, number)
        others: list[str] = []

        def member(account_id: str) -> int:
            number = members.get(account_id)
            if number is None:
                others.append(account_id)
                number = members[account_id] = len(accounts) + len(others)
            return number

        due_members = _packed("I", [member(account_id) for account_id in due])
        due_times = _packed("d", [math.nan if when is None else when for when in due.values()])
        by_model: dict[str, list[Rank]] = {}
        for rank in ranks:
            by_model.setdefault(rank.model, []).append(rank)
        rankings = []
        for model, model_ranks in by_model.items():
            tiers = model_ranks[0].tiers
            _check_tier_count(model, tiers)
            tier_index = {tier: index for index, tier in enumerate(tiers)}
            rankings.append(
                Ranking(
                    model,
                    tiers,
                    bytes(tier_index[rank.tier] for rank in model_ranks),
                    bytes(
                        tier_index.get(rank.previous_tier or "", UNKNOWN_TIER)
                        for rank in model_ranks
                    ),
                    _packed("d", [rank.total for rank in model_ranks]),
                    _packed("I", [member(rank.account_id) for rank in model_ranks]),
                )
            )
        return cls(
            [write.account_id for write in accounts],
            list(shapes),
            _packed("H", record_shapes),
            records,
            due_times,
            due_members,
            rankings,
            others,
        )


@dataclass(frozen=True, slots=True)
class PartitionKeys:
    """The keys of one partition of the events topic; all in one Cluster slot."""

    prefix: str
    partition: int

    @property
    def tag(self) -> str:
        return f"{{{self.prefix}:p{self.partition}}}"

    @property
    def fence(self) -> str:
        return f"{self.tag}:fence"

    def offset(self, source: str) -> str:
        """The applied offset of this partition of one source topic (`events`, `profiles`)."""
        return f"{self.tag}:offset:{source}"

    @property
    def outbox(self) -> str:
        return f"{self.tag}:outbox"

    @property
    def due_sets(self) -> str:
        """The name of the due sets without their bucket (`sorted_set_bucket`): accounts by the
        time their next tier drop is due."""
        return f"{self.tag}:due:"

    def due(self, bucket: int) -> str:
        return f"{self.due_sets}{bucket}"

    @property
    def accounts(self) -> str:
        """The name of the account hashes without their bucket (`account_bucket`): account id ->
        record."""
        return f"{self.tag}:accounts:"

    def account_hash(self, bucket: int) -> str:
        return f"{self.accounts}{bucket}"

    def old_account(self, account_id: str) -> str:
        """An account's hash as versions before 2026-12-02 17:00 kept it: moved into the account
        hashes when a worker takes the partition."""
        return f"{self.tag}:a:{account_id}"

    @property
    def layout(self) -> str:
        """Set once the partition's old account hashes were moved (`ACCOUNTS_MOVED`)."""
        return f"{self.tag}:layout"

    def ranking_sets(self, model: str, tier: str) -> str:
        """The name of the ranking sets of one model and tier without their bucket
        (`sorted_set_bucket`): accounts by total."""
        return f"{self.tag}:ranking:{model}:{tier}:"

    def ranking(self, model: str, tier: str, bucket: int) -> str:
        return f"{self.ranking_sets(model, tier)}{bucket}"

    @property
    def whole_due(self) -> str:
        """The due set as versions before 2026-12-02 kept it, not bucketed: moved into the
        buckets, written only by workers of those versions."""
        return f"{self.tag}:due"

    def whole_ranking(self, model: str, tier: str) -> str:
        """A ranking set as versions before 2026-12-02 kept it: moved into the buckets, written
        only by workers of those versions."""
        return f"{self.tag}:rank:{model}:{tier}"

    @property
    def versions(self) -> str:
        """The model versions every account of the partition has been rescored to."""
        return f"{self.tag}:versions"


class StateStore:
    """The Redis side of the pipeline, for one worker. Methods are one round trip each."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._commit = client.register_script(COMMIT_SCRIPT)
        self._trim = client.register_script(TRIM_SCRIPT)
        self._read = client.register_script(READ_SCRIPT)
        self._top = client.register_script(TOP_SCRIPT)
        self._due = client.register_script(DUE_SCRIPT)
        self._count = client.register_script(COUNT_SCRIPT)
        self._move_whole_sets = client.register_script(MOVE_WHOLE_SETS_SCRIPT)
        self._move_account_hashes = client.register_script(MOVE_ACCOUNT_HASHES_SCRIPT)
        self._forget_other_versions = client.register_script(FORGET_OTHER_VERSIONS_SCRIPT)

    def keys(self, partition: int) -> PartitionKeys:
        return PartitionKeys(self.prefix, partition)

    async def take_fence(self, partition: int) -> str:
        """Claims the partition for this worker; returns the token its commits must carry."""
        token = uuid.uuid4().hex
        await self.client.set(self.keys(partition).fence, token)
        return token

    async def applied_offset(self, partition: int, source: str) -> int:
        """The last offset of the partition of `source` whose effects are in Redis; -1 for none."""
        value = await self.client.get(self.keys(partition).offset(source))
        return -1 if value is None else int(value)

    async def read_fields(
        self, partition: int, account_ids: Sequence[str], fields: Sequence[str]
    ) -> list[list[bytes | None]]:
        """The named fields (`m`, `p`, `s:<model>`) of each account, in the order given (None
        where absent); `StateDecodeError` for a corrupt record."""
        if not account_ids:
            return []
        keys = self.keys(partition)
        names = [record_name(f) for f in fields]
        records = await self._read(keys=[keys.fence], args=[keys.accounts, *account_ids])
        out: list[list[bytes | None]] = []
        for record in records:
            entries = {} if record is None else split_record(record)
            out.append([entries.get(name) for name in names])
        return out

    async def commit(
        self,
        partition: int,
        token: str,
        source: str,
        applied_offset: int | None,
        accounts: Sequence[AccountWrite],
        outbox: Sequence[bytes],
        due: Mapping[str, float | None],
        ranks: Sequence[Rank] = (),
    ) -> CommitResult:
        """Writes one batch atomically, if `token` still holds the fence and the offset is new.

        `applied_offset` is the batch's last offset in `source`, or None for a write that
        consumes no offset (decay sweep, rescoring), which is fenced all the same.
        `due` maps an account to the time its next tier drop is due, or None to unschedule it;
        `ranks` puts each account in the ranking set of its tier (and out of the others).
        """
        batch = CommitBatch.of(accounts, due, ranks)
        return await self.commit_batch(partition, token, source, applied_offset, batch, outbox)

    async def commit_batch(
        self,
        partition: int,
        token: str,
        source: str,
        applied_offset: int | None,
        batch: CommitBatch,
        outbox: Sequence[bytes],
    ) -> CommitResult:
        """`commit` of a batch already packed (`CommitBatch`); ValueError, before anything is
        sent, when its columns do not agree."""
        batch.check()
        keys = self.keys(partition)
        all_keys = [keys.fence, keys.offset(source), keys.outbox]
        written = b""
        if batch.due_members is None or any(r.members is None for r in batch.rankings):
            written = _packed("I", range(1, len(batch.accounts) + 1))
        rank_args: list[bytes | str | int] = [len(batch.rankings)]
        for ranking in batch.rankings:
            _check_tier_count(ranking.model, ranking.tiers)
            rank_args.append(len(ranking.tiers))
            rank_args.extend(keys.ranking_sets(ranking.model, tier) for tier in ranking.tiers)
            rank_args.extend(
                (
                    written if ranking.members is None else ranking.members,
                    ranking.tier_indexes,
                    ranking.previous_indexes,
                    ranking.totals,
                )
            )
        args: list[bytes | str | int] = [
            token,
            "" if applied_offset is None else applied_offset,
            len(batch.accounts),
            len(outbox),
            keys.accounts,
            len(batch.shapes),
        ]
        for names in batch.shapes:
            args.append(len(names))
            args.extend(map(record_name, names))
        args.append(batch.record_shapes)
        for account_id, write in zip(batch.accounts, batch.records, strict=True):
            args += (account_id, write)
        args.extend(outbox)
        args.append(len(batch.others))
        args.extend(batch.others)
        args.append(keys.due_sets)
        args.append(written if batch.due_members is None else batch.due_members)
        args.append(batch.due_times)
        args.extend(rank_args)
        result = await self._commit(keys=all_keys, args=args)
        if result == 1:
            return Committed()
        if result == 0:
            return Fenced()
        return AlreadyApplied()

    async def outbox(self, partition: int, limit: int = 1000) -> list[bytes]:
        """The oldest unpublished score-change events of the partition, oldest first."""
        return [
            _raw(v) for v in await self.client.lrange(self.keys(partition).outbox, 0, limit - 1)
        ]

    async def clear_outbox(self, partition: int, token: str, count: int) -> bool:
        """Drops the `count` oldest outbox entries once the broker has acknowledged them.

        Fenced like a commit: False (and nothing dropped) when another worker owns the partition.
        """
        keys = self.keys(partition)
        return bool(await self._trim(keys=[keys.fence, keys.outbox], args=[token, count]))

    async def due_accounts(self, partition: int, until: float, limit: int = 1000) -> list[str]:
        """Accounts of the partition whose next tier drop is due at or before `until`, at most
        `limit`: not the earliest ones, but read from a random bucket on, so that when more are
        due than one call takes, none waits for many calls."""
        if limit < 1:
            return []
        keys = self.keys(partition)
        first = random.randrange(SORTED_SET_BUCKETS)
        members = await self._due(
            keys=[keys.fence], args=[keys.due_sets, repr(until), limit, first]
        )
        return [_text(m) for m in members]

    async def top(
        self,
        partitions: Sequence[int],
        model: str,
        tiers: Sequence[str],
        limit: int,
        ceilings: Sequence[float | None] | None = None,
        versions: str | None = None,
    ) -> list[tuple[str, float]]:
        """The `limit` accounts with the highest totals among `tiers` of `model`, best first.

        `ceilings` (one per tier, None for none) bound the totals a tier holds under the model
        `versions` (as `mark_rescored` names them): an account evaluated into a tier has a total
        below the `min` of the tier above it, or it would have moved up (SCORING.md). On a
        partition rescored to `versions`, a tier whose ceiling the `limit`-th best total already
        reaches is not read: 256 range reads saved per tier. Elsewhere accounts ranked under
        other versions may break the bound, so every tier is read."""
        if limit < 1 or not tiers:
            return []
        bounds = [None] * len(tiers) if ceilings is None else ceilings
        async with self.client.pipeline(transaction=False) as pipe:
            for partition in partitions:
                keys = self.keys(partition)
                args: list[str | int] = [limit, versions or ""]
                for tier, ceiling in zip(tiers, bounds, strict=True):
                    args.extend(
                        (keys.ranking_sets(model, tier), "" if ceiling is None else repr(ceiling))
                    )
                await self._top(keys=[keys.fence, keys.versions], args=args, client=pipe)
            results = await pipe.execute()
        merged = [
            (_text(result[i]), float(result[i + 1]))
            for result in results
            for i in range(0, len(result), 2)
        ]
        merged.sort(key=lambda item: (-item[1], item[0]))
        return merged[:limit]

    async def tier_counts(
        self, partitions: Sequence[int], model: str, tiers: Sequence[str]
    ) -> dict[str, int]:
        """How many accounts of the partitions sit in each tier of `model`."""
        async with self.client.pipeline(transaction=False) as pipe:
            for partition in partitions:
                keys = self.keys(partition)
                sets = [keys.ranking_sets(model, tier) for tier in tiers]
                await self._count(keys=[keys.fence], args=sets, client=pipe)
            results = await pipe.execute()
        counts = dict.fromkeys(tiers, 0)
        for result in results:
            for tier, count in zip(tiers, result, strict=True):
                counts[tier] += count
        return counts

    async def move_whole_sorted_sets(
        self,
        partition: int,
        token: str,
        rankings: Sequence[tuple[str, Sequence[str]]],
        chunk: int = 200,
    ) -> int:
        """Moves the due and ranking sets that versions before 2026-12-02 kept whole
        (`PartitionKeys.whole_due`, `whole_ranking`) into their buckets, a chunk of each set per
        call (~10 ms of Redis), until they are gone; returns the entries moved.

        `rankings` names each loaded model and its tiers; whole sets of other models or tiers
        are left (docs/redis-layout.md). Run by a worker that has just taken the partition's
        fence, before its first commit: what the whole sets hold was then written after the
        buckets (by a worker of an earlier version) and wins over them. Fenced like a commit:
        stops, moving nothing more, once another worker owns the partition."""
        keys = self.keys(partition)
        whole = [keys.fence, keys.whole_due]
        args: list[str | int] = [token, chunk, keys.due_sets, len(rankings)]
        for model, tiers in rankings:
            _check_tier_count(model, tiers)
            whole.extend(keys.whole_ranking(model, tier) for tier in tiers)
            args.append(len(tiers))
            args.extend(keys.ranking_sets(model, tier) for tier in tiers)
        moved = 0
        while True:
            taken = int(await self._move_whole_sets(keys=whole, args=args))
            if taken <= 0:
                return moved
            moved += taken

    def _partition_keys_pattern(self, infix: str) -> str:
        """A SCAN pattern for the keys `{<prefix>:p<n>}<infix>...` of every partition."""
        return f"{_glob_escaped(f'{{{self.prefix}:p')}*}}{infix}*"

    def _partition_key(self, key: bytes | str, infix: str) -> tuple[int, str] | None:
        """(n, the rest) of a key `{<prefix>:p<n>}<infix><rest>`; None for any other key (a
        SCAN pattern also matches other prefixes that start alike)."""
        head = f"{{{self.prefix}:p"
        text = _text(key)
        if not text.startswith(head):
            return None
        number, separator, rest = text[len(head) :].partition("}" + infix)
        return (int(number), rest) if separator and number.isdigit() else None

    async def account_ids(self, cursor: int, count: int) -> tuple[int, list[tuple[int, str]]]:
        """One SCAN step over the account hashes of every partition, and their ids: (next
        cursor, (partition, account id) pairs), about `count` accounts or more (the step visits
        count / 16 keys, and a hash holds ~25 accounts at 25,000 per partition); cursor 0 =
        done. An account may be listed twice (SCAN may return a key twice).

        One walk lists every partition: SCAN visits the whole keyspace whatever its pattern, so
        a walk per partition cost Redis the keyspace once per partition."""
        cursor, found = await self.client.scan(
            cursor, match=self._partition_keys_pattern(":accounts:"), count=max(10, count // 16)
        )
        hashes = []
        for key in found:
            parsed = self._partition_key(key, ":accounts:")
            if parsed is not None and parsed[1].isdigit():
                hashes.append((parsed[0], key))
        async with self.client.pipeline(transaction=False) as pipe:
            for _, key in hashes:
                pipe.hkeys(key)
            ids = await pipe.execute() if hashes else []
        accounts = [
            (partition, _text(account_id))
            for (partition, _), account_ids in zip(hashes, ids, strict=True)
            for account_id in account_ids
        ]
        return cursor, accounts

    async def move_account_hashes(self, tokens: Mapping[int, str], chunk: int = 200) -> int:
        """Moves the accounts that versions before 2026-12-02 17:00 kept in a hash each into the
        account hashes, for the partitions of `tokens` (partition -> its fence token), `chunk`
        per call, once per partition (`PartitionKeys.layout` marks it done); returns how many.
        One SCAN walks the keyspace for all of them. Run before the partitions' first commit or
        read. Fenced like a commit: a partition another worker owns by now is left (its owner
        moves it)."""
        if not tokens:
            return 0
        async with self.client.pipeline(transaction=False) as pipe:
            for partition in tokens:
                pipe.exists(self.keys(partition).layout)
            marked = await pipe.execute()
        pending = {p: t for (p, t), done in zip(tokens.items(), marked, strict=True) if not done}
        if not pending:
            return 0
        fenced: set[int] = set()
        moved, cursor = 0, 0
        while True:
            cursor, found = await self.client.scan(
                cursor, match=self._partition_keys_pattern(":a:"), count=1000
            )
            by_partition: dict[int, list[bytes | str]] = {}
            for key in found:
                parsed = self._partition_key(key, ":a:")
                if parsed is not None and parsed[0] in pending:
                    by_partition.setdefault(parsed[0], []).append(key)
            for partition, old in by_partition.items():
                keys = self.keys(partition)
                args: list[str | int] = [
                    pending[partition],
                    len(keys.old_account("").encode()),
                    keys.accounts,
                ]
                for start in range(0, len(old), chunk):
                    if partition in fenced:
                        break
                    taken = int(
                        await self._move_account_hashes(
                            keys=[keys.fence, *old[start : start + chunk]], args=args
                        )
                    )
                    if taken < 0:
                        fenced.add(partition)
                    else:
                        moved += taken
            if cursor == 0:
                break
        for partition in pending.keys() - fenced:
            await self.client.set(self.keys(partition).layout, ACCOUNTS_MOVED)
        return moved

    async def rescored_versions(self, partition: int) -> str | None:
        value = await self.client.get(self.keys(partition).versions)
        return None if value is None else _text(value)

    async def mark_rescored(self, partition: int, versions: str) -> None:
        await self.client.set(self.keys(partition).versions, versions)

    async def forget_other_versions(self, partition: int, versions: str) -> bool:
        """Forgets the versions the partition was rescored to unless they are `versions`; True
        when it did. For a worker that has just taken the partition: until its rescoring marks
        `versions`, it writes ranks under them among accounts ranked under others, so no tier
        ceilings (`top`) may count there, for either set of versions."""
        versions_key = self.keys(partition).versions
        return bool(await self._forget_other_versions(keys=[versions_key], args=[versions]))

    async def resolve_domains(self, domains: Sequence[str]) -> dict[str, str]:
        """Account ids of the given domains, for those a profile has named (one round trip; a
        second only for domains the map does not hold, read where versions before 2026-12-02
        kept each domain, `legacy_domain_key`)."""
        if not domains:
            return {}
        unique = list(dict.fromkeys(domains))
        by_bucket: dict[str, list[str]] = {}
        for domain in unique:
            by_bucket.setdefault(self.domain_bucket(domain), []).append(domain)
        async with self.client.pipeline(transaction=False) as pipe:
            for key, names in by_bucket.items():
                pipe.hmget(key, names)
            replies = await pipe.execute()
        found: dict[str, str] = {}
        for names, values in zip(by_bucket.values(), replies, strict=True):
            found.update((d, _text(v)) for d, v in zip(names, values, strict=True) if v is not None)
        missing = [d for d in unique if d not in found]
        if missing:
            async with self.client.pipeline(transaction=False) as pipe:
                for domain in missing:
                    pipe.get(self.legacy_domain_key(domain))
                legacy = await pipe.execute()
            found.update(
                (d, _text(v)) for d, v in zip(missing, legacy, strict=True) if v is not None
            )
        return found

    async def remember_domains(self, accounts: Mapping[str, str]) -> None:
        """Points each domain at its account (one round trip). Written before the profiles'
        commit: a crash in between leaves the map ahead of the state, which is harmless (it is
        only a lookup). One HSET per hash, pipelined: each hash has its own Cluster hash tag."""
        by_bucket: dict[str, dict[FieldT, EncodableT]] = {}
        for domain, account_id in accounts.items():
            by_bucket.setdefault(self.domain_bucket(domain), {})[domain] = account_id
        if by_bucket:
            async with self.client.pipeline(transaction=False) as pipe:
                for key, mapping in by_bucket.items():
                    pipe.hset(key, mapping=mapping)
                await pipe.execute()

    def domain_bucket(self, domain: str) -> str:
        """The hash that maps `domain` (one of `DOMAIN_BUCKETS`, each its own Cluster hash tag).

        At 100,000 domains ~24 share a hash, kept as a compact listpack: ~41 B per domain
        against ~120 B for a key of its own (docs/redis-layout.md)."""
        bucket = zlib.crc32(domain.encode()) % DOMAIN_BUCKETS
        return f"{{{self.prefix}:domains:{bucket}}}"

    def legacy_domain_key(self, domain: str) -> str:
        """Where versions before 2026-12-02 kept `domain`: still read, never written."""
        return f"{self.prefix}:domain:{{{domain}}}"
