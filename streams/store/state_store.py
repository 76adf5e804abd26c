"""`StateStore`: the Redis side of the pipeline, for one worker (docs/redis-layout.md).

It is the parts of the store in one object, each in its own module: the partition's fence,
offsets and outbox (`streams.store.partitions`), the batch commit (`streams.store.commit`), the
reads and queries (`streams.store.queries`) and the domain map (`streams.store.domains`).
"""

from __future__ import annotations

from streams.store.commit import BatchCommits
from streams.store.domains import DomainMap
from streams.store.partitions import PartitionBookkeeping
from streams.store.queries import AccountQueries


class StateStore(PartitionBookkeeping, BatchCommits, AccountQueries, DomainMap):
    """Account state in Redis under one key prefix. Methods are one round trip each; every
    write to a partition is fenced (`take_fence`)."""
