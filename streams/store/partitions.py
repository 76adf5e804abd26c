"""A partition's ownership and bookkeeping: its fence, applied offsets, outbox and the model
versions it was rescored to.

A worker takes a partition's fence when it is assigned the partition, a new token each time;
every write to the partition (`streams.store.commit`, `clear_outbox`) carries the token and is
refused once another worker has taken the fence since.
"""

from __future__ import annotations

import uuid

from streams.store.base import StoreBase, text


class PartitionBookkeeping(StoreBase):
    """The fence, offsets, outbox and rescored versions of `StateStore`."""

    async def take_fence(self, partition: int) -> str:
        """Claims the partition for this worker; returns the token its commits must carry."""
        token = uuid.uuid4().hex
        await self.client.set(self.keys(partition).fence, token)
        return token

    async def applied_offset(self, partition: int, source: str) -> int:
        """The last offset of the partition of `source` whose effects are in Redis; -1 for none."""
        value = await self.client.get(self.keys(partition).offset(source))
        return -1 if value is None else int(value)

    async def outbox(self, partition: int, limit: int = 1000) -> list[bytes]:
        """The oldest unpublished score-change events of the partition, oldest first."""
        entries = await self.client.lrange(self.keys(partition).outbox, 0, limit - 1)
        return [v if isinstance(v, bytes) else v.encode() for v in entries]

    async def clear_outbox(self, partition: int, token: str, count: int) -> bool:
        """Drops the `count` oldest outbox entries once the broker has acknowledged them.

        Fenced like a commit: False (and nothing dropped) when another worker owns the partition.
        """
        keys = self.keys(partition)
        trimmed = await self.scripts.trim_outbox(
            keys=[keys.fence, keys.outbox], args=[token, count]
        )
        return bool(trimmed)

    async def rescored_versions(self, partition: int) -> str | None:
        """The model versions every account of the partition was rescored to (as
        `mark_rescored` named them); None when not known."""
        value = await self.client.get(self.keys(partition).versions)
        return None if value is None else text(value)

    async def mark_rescored(self, partition: int, versions: str) -> None:
        await self.client.set(self.keys(partition).versions, versions)

    async def forget_other_versions(self, partition: int, versions: str) -> bool:
        """Forgets the versions the partition was rescored to unless they are `versions`; True
        when it did. For a worker that has just taken the partition: until its rescoring marks
        `versions`, it writes ranks under them among accounts ranked under others, so no tier
        ceilings (`top`) may count there, for either set of versions."""
        versions_key = self.keys(partition).versions
        forgot = await self.scripts.forget_other_versions(keys=[versions_key], args=[versions])
        return bool(forgot)
