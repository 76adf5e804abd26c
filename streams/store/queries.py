"""Reads of a partition's accounts and rankings: records by id, due accounts, the top of a
model's tiers, tier counts, and a walk over every stored account.

Each is one round trip (the range queries read every bucket of a partition's sets in one
script call: `lua/due.lua`, `lua/top.lua`, `lua/count.lua`).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from streams.store.base import StoreBase, text
from streams.store.keys import account_hashes_pattern, parse_account_hash
from streams.store.records import SORTED_SET_BUCKETS, record_name, split_record


class AccountQueries(StoreBase):
    """The reads of `StateStore`."""

    async def read_fields(
        self, partition: int, account_ids: Sequence[str], fields: Sequence[str]
    ) -> list[list[bytes | None]]:
        """The named fields (`m`, `p`, `s:<model>`) of each account, in the order given (None
        where absent); `StateDecodeError` for a corrupt record."""
        if not account_ids:
            return []
        keys = self.keys(partition)
        names = [record_name(f) for f in fields]
        records = await self.scripts.read_records(
            keys=[keys.fence], args=[keys.accounts, *account_ids]
        )
        out: list[list[bytes | None]] = []
        for record in records:
            entries = {} if record is None else split_record(record)
            out.append([entries.get(name) for name in names])
        return out

    async def due_accounts(self, partition: int, until: float, limit: int = 1000) -> list[str]:
        """Accounts of the partition whose next tier drop is due at or before `until`, at most
        `limit`: not the earliest ones, but read from a random bucket on, so that when more are
        due than one call takes, none waits for many calls."""
        if limit < 1:
            return []
        keys = self.keys(partition)
        first = random.randrange(SORTED_SET_BUCKETS)
        members = await self.scripts.due(
            keys=[keys.fence], args=[keys.due_sets, repr(until), limit, first]
        )
        return [text(m) for m in members]

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
        below the `min` of the tier above it, or it would have moved up (docs/scoring.md section
        3). On a
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
                await self.scripts.top(keys=[keys.fence, keys.versions], args=args, client=pipe)
            results = await pipe.execute()
        merged = [
            (text(result[i]), float(result[i + 1]))
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
                await self.scripts.count(keys=[keys.fence], args=sets, client=pipe)
            results = await pipe.execute()
        counts = dict.fromkeys(tiers, 0)
        for result in results:
            for tier, count in zip(tiers, result, strict=True):
                counts[tier] += count
        return counts

    async def account_ids(self, cursor: int, count: int) -> tuple[int, list[tuple[int, str]]]:
        """One SCAN step over the account hashes of every partition, and their ids: (next
        cursor, (partition, account id) pairs), about `count` accounts or more (the step visits
        count / 16 keys, and a hash holds ~25 accounts at 25,000 per partition); cursor 0 =
        done. An account may be listed twice (SCAN may return a key twice).

        One walk lists every partition: SCAN visits the whole keyspace whatever its pattern, so
        a walk per partition cost Redis the keyspace once per partition."""
        cursor, found = await self.client.scan(
            cursor, match=account_hashes_pattern(self.prefix), count=max(10, count // 16)
        )
        hashes = []
        for key in found:
            partition = parse_account_hash(self.prefix, key)
            if partition is not None:
                hashes.append((partition, key))
        async with self.client.pipeline(transaction=False) as pipe:
            for _, key in hashes:
                pipe.hkeys(key)
            ids = await pipe.execute() if hashes else []
        accounts = [
            (partition, text(account_id))
            for (partition, _), account_ids in zip(hashes, ids, strict=True)
            for account_id in account_ids
        ]
        return cursor, accounts
