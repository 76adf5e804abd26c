"""The Redis client of the store: redis-py's asyncio client, whose connections pack commands
with hiredis.

redis-py's asyncio connection packs each command through a wrapper that walks every argument
in Python first (before redis-py 8, a pure-Python packer); with the ~20 arguments per account
a batch commit once sent, that was the worker's top entry in the profile (docs/benchmarks.md).
Same bytes on the wire.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import hiredis
import redis.asyncio as aioredis
from redis.typing import EncodableT

if TYPE_CHECKING:
    from redis.asyncio.connection import AbstractConnection

    _Connection = AbstractConnection
else:
    # A mixin at run time: `connect_redis` puts it before the pool's own connection class.
    _Connection = object


class HiredisPacking(_Connection):
    """Packs the usual command (its name without spaces, no bytearray or memoryview arguments)
    with hiredis directly; anything else as the connection class it is mixed into does."""

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        command = args[0]
        plain = (isinstance(command, str) and " " not in command) or (
            isinstance(command, bytes) and b" " not in command
        )
        if plain:
            try:
                # hiredis's stub leaves out bytearray, which it refuses: the TypeError below
                return [hiredis.pack_command(args)]  # type: ignore[arg-type]
            except TypeError:
                pass
        return super().pack_command(*args)


def connect_redis(url: str) -> aioredis.Redis:
    """A client for `url` (any scheme redis-py takes) whose connections pack with hiredis."""
    pool = aioredis.ConnectionPool.from_url(url)
    base = pool.connection_class
    pool.connection_class = type(f"Hiredis{base.__name__}", (HiredisPacking, base), {})
    return aioredis.Redis.from_pool(pool)
