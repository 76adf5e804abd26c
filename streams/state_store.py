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

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import redis.asyncio as aioredis

# KEYS: fence, offset, outbox, due, account keys...
# ARGV: token, applied offset ('' when the write consumes no offset: sweep, rescore),
#       n_accounts, n_outbox, n_due,
#       then per account: n_fields, field, value, ...; outbox payloads; (account, due or -1)
COMMIT_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if ARGV[2] ~= '' then
  local current = tonumber(redis.call('GET', KEYS[2]) or '-1')
  if tonumber(ARGV[2]) <= current then
    return -1
  end
  redis.call('SET', KEYS[2], ARGV[2])
end
local n_accounts, n_outbox, n_due = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local at = 6
for i = 1, n_accounts do
  local n_fields = tonumber(ARGV[at])
  at = at + 1
  local args = {}
  for j = 1, n_fields * 2 do
    args[j] = ARGV[at]
    at = at + 1
  end
  if n_fields > 0 then
    redis.call('HSET', KEYS[4 + i], unpack(args))
  end
end
for i = 1, n_outbox do
  redis.call('RPUSH', KEYS[3], ARGV[at])
  at = at + 1
end
for i = 1, n_due do
  local account, due = ARGV[at], tonumber(ARGV[at + 1])
  at = at + 2
  if due < 0 then
    redis.call('ZREM', KEYS[4], account)
  else
    redis.call('ZADD', KEYS[4], due, account)
  end
end
return 1
"""

# KEYS: fence, outbox; ARGV: token, count
TRIM_SCRIPT = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('LTRIM', KEYS[2], tonumber(ARGV[2]), -1)
return 1
"""


class StateStoreError(Exception):
    """Redis refused or failed a state operation."""


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
    """The hash fields of one account to write (meta, profile, one blob per model)."""

    account_id: str
    fields: dict[str, bytes] = field(default_factory=dict)


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

    @property
    def offset(self) -> str:
        return f"{self.tag}:offset"

    @property
    def outbox(self) -> str:
        return f"{self.tag}:outbox"

    @property
    def due(self) -> str:
        return f"{self.tag}:due"

    def account(self, account_id: str) -> str:
        return f"{self.tag}:a:{account_id}"


class StateStore:
    """The Redis side of the pipeline, for one worker. Methods are one round trip each."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._commit = client.register_script(COMMIT_SCRIPT)
        self._trim = client.register_script(TRIM_SCRIPT)

    def keys(self, partition: int) -> PartitionKeys:
        return PartitionKeys(self.prefix, partition)

    async def take_fence(self, partition: int) -> str:
        """Claims the partition for this worker; returns the token its commits must carry."""
        token = uuid.uuid4().hex
        await self.client.set(self.keys(partition).fence, token)
        return token

    async def applied_offset(self, partition: int) -> int:
        """The last offset of the partition whose effects are in Redis; -1 for none."""
        value = await self.client.get(self.keys(partition).offset)
        return -1 if value is None else int(value)

    async def read_accounts(
        self, partition: int, account_ids: Sequence[str]
    ) -> dict[str, dict[bytes, bytes]]:
        """Every stored hash field of the given accounts (empty dict for an unknown account)."""
        keys = self.keys(partition)
        async with self.client.pipeline(transaction=False) as pipe:
            for account_id in account_ids:
                pipe.hgetall(keys.account(account_id))
            results = await pipe.execute()
        return dict(zip(account_ids, results, strict=True))

    async def commit(
        self,
        partition: int,
        token: str,
        applied_offset: int | None,
        accounts: Sequence[AccountWrite],
        outbox: Sequence[bytes],
        due: Mapping[str, float | None],
    ) -> CommitResult:
        """Writes one batch atomically, if `token` still holds the fence and the offset is new.

        `applied_offset` is the batch's last offset, or None for a write that consumes no offset
        (decay sweep, rescoring), which is fenced all the same.
        `due` maps an account to the time its next tier drop is due, or None to unschedule it.
        """
        keys = self.keys(partition)
        args: list[bytes | str | int | float] = [
            token,
            "" if applied_offset is None else applied_offset,
            len(accounts),
            len(outbox),
            len(due),
        ]
        for write in accounts:
            args.append(len(write.fields))
            for name, value in write.fields.items():
                args.extend((name, value))
        args.extend(outbox)
        for account_id, when in due.items():
            args.extend((account_id, -1 if when is None else when))
        result = await self._commit(
            keys=[keys.fence, keys.offset, keys.outbox, keys.due]
            + [keys.account(write.account_id) for write in accounts],
            args=args,
        )
        if result == 1:
            return Committed()
        if result == 0:
            return Fenced()
        return AlreadyApplied()

    async def outbox(self, partition: int, limit: int = 1000) -> list[bytes]:
        """The oldest unpublished score-change events of the partition, oldest first."""
        return list(await self.client.lrange(self.keys(partition).outbox, 0, limit - 1))

    async def clear_outbox(self, partition: int, token: str, count: int) -> bool:
        """Drops the `count` oldest outbox entries once the broker has acknowledged them.

        Fenced like a commit: False (and nothing dropped) when another worker owns the partition.
        """
        keys = self.keys(partition)
        return bool(await self._trim(keys=[keys.fence, keys.outbox], args=[token, count]))

    async def due_accounts(self, partition: int, until: float, limit: int = 1000) -> list[str]:
        """Accounts of the partition whose next tier drop is due at or before `until`."""
        members = await self.client.zrangebyscore(
            self.keys(partition).due, "-inf", until, start=0, num=limit
        )
        return [m.decode() for m in members]
