"""`connect_redis`'s connections pack commands with hiredis, into the bytes redis-py sends."""

from __future__ import annotations

import pytest
from redis.asyncio.connection import AbstractConnection, Connection, UnixDomainSocketConnection

from streams.store.client import HiredisPacking, connect_redis


def connection(url: str = "redis://127.0.0.1:1/0") -> AbstractConnection:
    """A connection of `connect_redis`'s pool (not connected: packing needs no server)."""
    return connect_redis(url).connection_pool.connection_class()


def test_connect_redis_mixes_the_packing_into_the_pool_connection_class() -> None:
    assert isinstance(connection(), HiredisPacking) and isinstance(connection(), Connection)
    unix = connection("unix:///tmp/no-such-redis.sock")
    assert isinstance(unix, HiredisPacking) and isinstance(unix, UnixDomainSocketConnection)


@pytest.mark.parametrize(
    "args",
    [
        ("EVALSHA", "f" * 40, 3, "k1", b"\x00\xffbinary", -1, 1795000000.123456, "é", 10**20),
        (b"SET", b"key", b"x" * 10_000),
        ("CONFIG GET", "maxmemory"),  # a name with a space: split, as redis-py does
        (b"CONFIG GET", b"maxmemory"),
        ("HSET", b"key", bytearray(b"field"), memoryview(b"value")),  # not for hiredis directly
    ],
    ids=["usual", "large", "spaced name", "spaced bytes name", "bytearray and memoryview"],
)
def test_a_command_is_packed_into_the_bytes_redis_py_sends(args: tuple) -> None:
    fast = b"".join(connection().pack_command(*args))

    assert fast == b"".join(Connection().pack_command(*args))
