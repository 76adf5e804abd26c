"""The names of every Redis key the store writes (docs/redis-layout.md).

Every key of a partition carries the hash tag `{<prefix>:p<partition>}`, so all of it lives in
one slot of a Redis Cluster and the batch commit can be a single Lua script. Accounts belong to
exactly one partition of the events topic (events are keyed by account_id), so "work partition-
owned" and "keys slot-safe" are the same thing. The domain map is the one structure outside the
partitions: each of its hashes is a hash tag of its own.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

# Hashes of the domain map. crc32, not murmur2: the partition already is murmur2 of the account.
# Stored data depends on this number: changing it moves every domain to another hash.
DOMAIN_BUCKETS = 4096


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
        """The token of the worker that owns the partition (`streams.store.partitions`)."""
        return f"{self.tag}:fence"

    def offset(self, source: str) -> str:
        """The applied offset of this partition of one source topic (`events`, `profiles`)."""
        return f"{self.tag}:offset:{source}"

    @property
    def outbox(self) -> str:
        """Score-change events committed but not yet acknowledged by the broker, oldest first."""
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
        record (`streams.store.records`)."""
        return f"{self.tag}:accounts:"

    def account_hash(self, bucket: int) -> str:
        return f"{self.accounts}{bucket}"

    def ranking_sets(self, model: str, tier: str) -> str:
        """The name of the ranking sets of one model and tier without their bucket
        (`sorted_set_bucket`): accounts by total."""
        return f"{self.tag}:ranking:{model}:{tier}:"

    def ranking(self, model: str, tier: str, bucket: int) -> str:
        return f"{self.ranking_sets(model, tier)}{bucket}"

    @property
    def versions(self) -> str:
        """The model versions every account of the partition has been rescored to."""
        return f"{self.tag}:versions"


def domain_hash(prefix: str, domain: str) -> str:
    """The hash of the domain map that holds `domain` (one of `DOMAIN_BUCKETS`, each its own
    Cluster hash tag).

    At 100,000 domains ~24 share a hash, kept as a compact listpack: ~41 B per domain against
    ~120 B for a key of its own (docs/redis-layout.md)."""
    bucket = zlib.crc32(domain.encode()) % DOMAIN_BUCKETS
    return f"{{{prefix}:domains:{bucket}}}"


def account_hashes_pattern(prefix: str) -> str:
    """A SCAN pattern for the account hashes of every partition (and, SCAN being a glob, of
    other prefixes that start alike: `parse_account_hash` tells them apart)."""
    return f"{_glob_escaped(f'{{{prefix}:p')}*}}:accounts:*"


def parse_account_hash(prefix: str, key: bytes | str) -> int | None:
    """The partition of an account hash `{<prefix>:p<n>}:accounts:<bucket>`; None for any other
    key."""
    head = f"{{{prefix}:p"
    text = key.decode() if isinstance(key, bytes) else key
    if not text.startswith(head):
        return None
    number, separator, bucket = text[len(head) :].partition("}:accounts:")
    if separator and number.isdigit() and bucket.isdigit():
        return int(number)
    return None


def _glob_escaped(text: str) -> str:
    """`text` as a literal in a SCAN pattern."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)
