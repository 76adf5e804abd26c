"""What every part of `StateStore` shares: the client, the key prefix and the scripts."""

from __future__ import annotations

import redis.asyncio as aioredis

from streams.store.keys import PartitionKeys
from streams.store.scripts import Scripts


class StoreBase:
    """The client (which returns bytes: state blobs are binary), the key prefix of every key and
    the registered scripts; the parts of `StateStore` derive from it."""

    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.scripts = Scripts.register(client)

    def keys(self, partition: int) -> PartitionKeys:
        return PartitionKeys(self.prefix, partition)


def text(value: bytes | str) -> str:
    """A reply as text (the client does not decode replies)."""
    return value.decode() if isinstance(value, bytes) else value
