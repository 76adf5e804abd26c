"""The store's Lua files: each one is a script or a fragment a script uses, and every constant
they name comes from `streams.store.records` (through the prelude `scripts` puts first)."""

from __future__ import annotations

import dataclasses
import re
from importlib import resources

from streams.store import scripts

LUA = resources.files("streams.store") / "lua"


def test_every_lua_file_is_a_script_or_a_fragment_a_script_uses() -> None:
    files = {
        entry.name.removesuffix(".lua") for entry in LUA.iterdir() if entry.name.endswith(".lua")
    }
    names = {field.name for field in dataclasses.fields(scripts.Scripts)}
    used = {fragment for fragments in scripts._FRAGMENTS.values() for fragment in fragments}

    assert set(scripts._FRAGMENTS) == names
    assert files == names | used


def test_every_constant_the_lua_files_name_is_defined_before_them() -> None:
    for entry in LUA.iterdir():
        # Without comments and string literals (Redis command names are upper case too).
        code = re.sub(r"--[^\n]*|'[^'\n]*'", "", entry.read_text("utf-8"))
        named = set(re.findall(r"\b[A-Z][A-Z0-9_]{2,}\b", code)) - {"ARGV", "KEYS"}
        assert named <= set(scripts._CONSTANTS), entry.name


def test_a_script_is_its_constants_fragments_and_file_in_that_order() -> None:
    source = scripts.script_source("commit")

    assert source.startswith("local SORTED_SET_BUCKETS = 256\n")
    assert source.index("local function account_bucket") < source.index("merged_record(stored")
    assert source.endswith(scripts.lua_file("commit"))
