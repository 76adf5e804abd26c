"""Decoded account states kept in the worker between batches, so a busy account is not read
from Redis and decoded again for every batch.

Redis stays the truth; the cache only saves the read and the decode (the account's fields, the
profile's JSON, `Engine.restore`: ~15 µs of the worker's CPU per account read on 2026-12-02,
plus Redis's time; docs/benchmarks.md). Keeping a state across batches is safe because one
worker alone writes a partition's accounts while it holds the partition's fence
(`streams.store.state_store`):

- an entry remembers the partition and the fence token it was committed under, and a lookup
  under another token misses: a worker that lost a partition, even for a moment, reads Redis
  again when it gets it back;
- a batch takes its accounts out of the cache (`take`) and hands them back only after its
  commit succeeded (`keep`). The engine mutates states in place, so a batch that fails, is
  fenced or is retried must never leave its half-applied states behind; taking them out makes
  that hold without any clean-up path.

Entries are evicted least recently committed first beyond `capacity` accounts (about 7 KB of
Python objects each, most of it the decoded profile); a capacity of 0 turns the cache off.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping

from scoring.state import AccountState


class StateCache:
    """Account id -> (partition, fence token, state), least recently committed first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, tuple[int, str, AccountState]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def take(
        self, partition: int, token: str, account_ids: Iterable[str]
    ) -> dict[str, AccountState]:
        """Removes and returns the cached states of `account_ids` committed under `token` on
        `partition`; the others are misses (read them from Redis). Entries of an older token
        are dropped on the way."""
        found = {}
        entries = self._entries
        for account_id in account_ids:
            entry = entries.pop(account_id, None)
            if entry is not None and entry[0] == partition and entry[1] == token:
                found[account_id] = entry[2]
        return found

    def keep(self, partition: int, token: str, states: Mapping[str, AccountState]) -> None:
        """Caches states just committed under `token`, as the most recent entries."""
        if not self.capacity:
            return
        entries = self._entries
        for account_id, state in states.items():
            entries[account_id] = (partition, token, state)
            entries.move_to_end(account_id)
        while len(entries) > self.capacity:
            entries.popitem(last=False)

    def drop_partition(self, partition: int) -> None:
        """Forgets a partition's accounts (revoked: its memory is better spent elsewhere)."""
        for account_id in [a for a, entry in self._entries.items() if entry[0] == partition]:
            del self._entries[account_id]
