"""The store's Lua scripts, read from the `.lua` files of `streams/store/lua/`.

A script is its own file, after the shared fragments it calls (`buckets.lua`, `record.lua`,
`bytes_before.lua`), after a prelude of the layout's constants as Lua locals: the numbers and
bytes stay defined once, in `streams.store.records`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields
from importlib import resources

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from streams.store.records import (
    ACCOUNT_BUCKETS,
    META_ENTRY,
    MODEL_ENTRY,
    NAME_HASH_MODULUS,
    NAME_HASH_MULTIPLIER,
    PROFILE_ENTRY,
    SORTED_SET_BUCKETS,
)

_CONSTANTS = {
    "SORTED_SET_BUCKETS": SORTED_SET_BUCKETS,
    "ACCOUNT_BUCKETS": ACCOUNT_BUCKETS,
    "NAME_HASH_MULTIPLIER": NAME_HASH_MULTIPLIER,
    "NAME_HASH_MODULUS": NAME_HASH_MODULUS,
    "MODEL_ENTRY": MODEL_ENTRY,
    "META_ENTRY": META_ENTRY,
    "PROFILE_ENTRY": PROFILE_ENTRY,
}
_PRELUDE = "".join(f"local {name} = {value}\n" for name, value in _CONSTANTS.items())

# The fragments each script calls, in the order they are put before it.
_FRAGMENTS: dict[str, tuple[str, ...]] = {
    "commit": ("buckets", "record"),
    "read_records": ("buckets",),
    "trim_outbox": (),
    "top": ("bytes_before",),
    "due": (),
    "count": (),
    "forget_other_versions": (),
}


@functools.cache
def lua_file(name: str) -> str:
    """The text of `lua/<name>.lua`."""
    return (resources.files("streams.store") / "lua" / f"{name}.lua").read_text("utf-8")


def lua_source(fragments: tuple[str, ...], body: str) -> str:
    """A script of `body` after the constants and the named fragments (for scripts of tests and
    tools that call the fragments)."""
    return _PRELUDE + "".join(lua_file(fragment) for fragment in fragments) + body


@functools.cache
def script_source(name: str) -> str:
    """The whole text of the store's script `name` (a field of `Scripts`)."""
    return lua_source(_FRAGMENTS[name], lua_file(name))


@dataclass(frozen=True, slots=True)
class Scripts:
    """The store's scripts registered with one client, each named after its file. Calling one
    runs EVALSHA, and loads the script first when Redis does not have it."""

    commit: AsyncScript
    read_records: AsyncScript
    trim_outbox: AsyncScript
    top: AsyncScript
    due: AsyncScript
    count: AsyncScript
    forget_other_versions: AsyncScript

    @classmethod
    def register(cls, client: aioredis.Redis) -> Scripts:
        return cls(**{f.name: client.register_script(script_source(f.name)) for f in fields(cls)})
