"""`scoring/` stays pure: no I/O libraries, no reading of the clock.

Scores must come out the same live, in replay and in rescoring (docs/scoring.md section 5), so the
scoring code gets time and data passed in; `streams/` does the I/O. This reads the source of every
module under scoring/ (also the ones written after this test) and checks it statically: Python
with `ast` (every import statement, relative imports resolved, and the `importlib.import_module`
/ `__import__` calls), Rust by its `use` trees and qualified paths with comments and string
literals taken out. Each check is proven on synthetic sources that break it.
"""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

SCORING = Path(__file__).resolve().parents[3] / "scoring"
NATIVE = SCORING / "native"
MODULES = sorted(path for path in SCORING.rglob("*.py") if NATIVE not in path.parents)

# Modules that do I/O or read the clock, with everything below them (`urllib` covers
# `urllib.request`). `importlib.resources` stays allowed: reading data packaged with scoring is
# the one I/O the domain may do.
FORBIDDEN_MODULES = frozenset(
    {
        "streams",  # the I/O layer sits on top of scoring, never below it
        "faust",
        "aiokafka",
        "redis",
        "mode",
        "socket",
        "ssl",
        "select",
        "selectors",
        "requests",
        "urllib",
        "http",
        "subprocess",
        "multiprocessing",
        "threading",
        "asyncio",
        "os",
        "io",
        "pathlib",
        "shutil",
        "tempfile",
        "sqlite3",
        "logging",
        "time",
    }
)
IMPORT_CALLS = frozenset({"importlib.import_module", "builtins.__import__"})
# Fully qualified, whatever the import style: `time.time`, `from time import time`, `import
# datetime as dt; dt.datetime.now`... all resolve to one of these.
CLOCK_READS = frozenset(
    {
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "time.perf_counter",
        "time.perf_counter_ns",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
    }
)
# Builtins that read or write outside the process, or run code that could import anything.
IO_BUILTINS = frozenset({"open", "print", "input", "breakpoint", "exec", "eval"})


def module_name(path: Path) -> tuple[str, bool]:
    """`scoring/loader/parse.py` -> ("scoring.loader.parse", False); a package's `__init__.py`
    -> its own name and True."""
    parts = path.relative_to(SCORING.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def _package(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def _resolve(name: str | None, level: int, package: str) -> str | None:
    """The absolute module of `from <'.' * level><name> import ...` in `package`; None when
    the dots climb out of the top package."""
    if level == 0:
        return name
    parts = package.split(".") if package else []
    if level - 1 >= len(parts):
        return None
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{name}" if name else base


def _import_aliases(tree: ast.AST, package: str) -> dict[str, str]:
    """Local name -> what it stands for: `dt` -> `datetime`, `now` -> `time.time`..."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, package)
            for alias in node.names:
                if base is not None:
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
    return aliases


def _qualified(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """`a.b.c` with `a` resolved through the imports (an unimported name is a builtin); None
    for anything else."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id, f"builtins.{node.id}")
    if isinstance(node, ast.Attribute):
        base = _qualified(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def _imported(tree: ast.AST, package: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import; '' for one whose name cannot be known."""
    aliases = _import_aliases(tree, package)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node.module, node.level, package)
            if base is None:
                yield node.lineno, ""
                continue
            yield node.lineno, base
            # `from os import path` imports os.path; `from scoring import x` a name or module
            yield from ((node.lineno, f"{base}.{alias.name}") for alias in node.names)
        elif isinstance(node, ast.Call) and _qualified(node.func, aliases) in IMPORT_CALLS:
            yield node.lineno, _called_module(node, package)


def _called_module(call: ast.Call, package: str) -> str:
    """The module of `import_module("x")` / `__import__("x")`; '' when not a literal."""
    args = [*call.args, *(kw.value for kw in call.keywords if kw.arg in ("name", "package"))]
    if not args or not isinstance(args[0], ast.Constant) or not isinstance(args[0].value, str):
        return ""
    name = args[0].value
    if not name.startswith("."):
        return name
    anchor = args[1] if len(args) > 1 else None
    if not isinstance(anchor, ast.Constant) or not isinstance(anchor.value, str):
        anchor = ast.Constant(package)
    level = len(name) - len(name.lstrip("."))
    return _resolve(name[level:] or None, level, str(anchor.value)) or ""


def _is_forbidden(module: str) -> bool:
    parts = module.split(".")
    return any(".".join(parts[:n]) in FORBIDDEN_MODULES for n in range(1, len(parts) + 1))


def forbidden_imports(
    tree: ast.AST, module: str = "scoring.example", is_package: bool = False
) -> list[str]:
    """Every import, anywhere in the module (also inside functions), of a forbidden module,
    or of a module that cannot be named statically (a computed `import_module` argument, a
    relative import above the top package)."""
    package = _package(module, is_package)
    found = []
    for line, name in _imported(tree, package):
        if not name:
            found.append(f"line {line}: an import whose module cannot be checked")
        elif _is_forbidden(name):
            found.append(f"line {line}: import {name}")
    return sorted(set(found))


def clock_reads(
    tree: ast.AST, module: str = "scoring.example", is_package: bool = False
) -> list[str]:
    """Every use of a clock-reading function, called or merely referenced (`default=time.time`)."""
    aliases = _import_aliases(tree, _package(module, is_package))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute):
            name = _qualified(node, aliases)
            if name in CLOCK_READS:
                found.append(f"line {node.lineno}: {name}")
    return found


def io_builtins(tree: ast.AST) -> list[str]:
    """Every use of an I/O builtin (`open`, `print`...) that the module does not bind itself."""
    bound = _bound_names(tree)
    return [
        f"line {node.lineno}: {node.id}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in IO_BUILTINS and node.id not in bound
    ]


def _bound_names(tree: ast.AST) -> set[str]:
    """The names a module binds: imports, assignments, parameters, functions and classes."""
    names = set(_import_aliases(tree, ""))
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _checked(path: Path) -> tuple[ast.AST, str, bool]:
    module, is_package = module_name(path)
    return ast.parse(path.read_text(encoding="utf-8")), module, is_package


def test_there_is_scoring_code_to_check() -> None:
    assert SCORING / "decode.py" in MODULES
    assert module_name(SCORING / "loader" / "__init__.py") == ("scoring.loader", True)
    assert module_name(SCORING / "decode.py") == ("scoring.decode", False)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SCORING)))
def test_scoring_imports_no_io_library(path: Path) -> None:
    tree, module, is_package = _checked(path)
    assert forbidden_imports(tree, module, is_package) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SCORING)))
def test_scoring_never_reads_the_clock(path: Path) -> None:
    tree, module, is_package = _checked(path)
    assert clock_reads(tree, module, is_package) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SCORING)))
def test_scoring_uses_no_io_builtin(path: Path) -> None:
    tree, _, _ = _checked(path)
    assert io_builtins(tree) == []


@pytest.mark.parametrize(
    "source",
    [
        "import redis",
        "import os",
        "import os.path as p",
        "from os import path",
        "import time",
        "from time import perf_counter",
        "import urllib.request",
        "from asyncio import sleep",
        "from aiokafka.consumer import AIOKafkaConsumer",
        "import streams.runtime.pipeline",
        "from streams.settings import Settings",
        "from streams import store",
        "def f():\n    import subprocess",
        "class C:\n    def f(self):\n        from socket import socket",
        "try:\n    import logging\nexcept ImportError:\n    pass",
        "import importlib\nm = importlib.import_module('redis.asyncio')",
        "from importlib import import_module as load\nload('socket')",
        "import importlib as il\nil.import_module(name='faust')",
        "__import__('subprocess')",
        "import importlib\nimportlib.import_module(computed)",  # cannot be checked: refused
        "import importlib\nimportlib.import_module('.runtime', 'streams')",
        "from .... import anything",  # climbs out of scoring
    ],
)
def test_the_import_check_catches(source: str) -> None:
    assert forbidden_imports(ast.parse(source), "scoring.loader.parse")


def test_relative_imports_are_resolved_against_the_module() -> None:
    tree = ast.parse("from ..decode import TYPE_PATTERN\nfrom . import rules")
    assert sorted(name for _, name in _imported(tree, "scoring.loader")) == [
        "scoring.decode",
        "scoring.decode.TYPE_PATTERN",
        "scoring.loader",
        "scoring.loader.rules",
    ]
    # In a package's __init__, one dot is the package itself.
    assert forbidden_imports(ast.parse("from .. import timefmt"), "scoring.loader", True) == []
    assert forbidden_imports(ast.parse("from ... import x"), "scoring.loader", True)


@pytest.mark.parametrize(
    "source",
    [
        "import time\nx = time.time()",
        "import time as t\nx = t.monotonic()",
        "from time import time\nx = time()",
        "from time import monotonic as clock\nf(default=clock)",
        "import datetime\nx = datetime.datetime.now(datetime.UTC)",
        "import datetime as dt\nx = dt.date.today()",
        "from datetime import datetime\nx = datetime.utcnow()",
        "from datetime import date as d\nx = d.today()",
    ],
)
def test_the_clock_check_catches(source: str) -> None:
    assert clock_reads(ast.parse(source))


@pytest.mark.parametrize(
    "source",
    [
        "with open('models/x.yaml') as f:\n    pass",
        "def f(x):\n    print(x)",
        "exec('import redis')",
        "eval(text)",
    ],
)
def test_the_builtin_check_catches(source: str) -> None:
    assert io_builtins(ast.parse(source))


@pytest.mark.parametrize(
    "source",
    [
        "from datetime import datetime\nx = datetime.fromtimestamp(0.0)",
        "import scoring.timefmt as time\nx = time.utc_day(0.0)",
        "from scoring import model\nx = model.Tier",
        "from . import rules\nfrom .values import read_text",
        "import orjson\nx = orjson.loads(b'{}')",
        "import importlib.resources\nx = importlib.resources.files('scoring')",
        "from importlib import resources\nx = resources.files('scoring')",
        "import importlib\nm = importlib.import_module('scoring.timefmt')",
        "def f(print):\n    return print",
        "x = re.compile('a')",
    ],
)
def test_the_checks_leave_pure_code_alone(source: str) -> None:
    tree = ast.parse(source)
    assert forbidden_imports(tree, "scoring.loader.parse") == []
    assert clock_reads(tree) == io_builtins(tree) == []


# --- the native core --------------------------------------------------------------------------

NATIVE_SOURCES = sorted((NATIVE / "src").rglob("*.rs"))
# The native core gets time and data passed in like the Python side: no files, sockets,
# processes, environment or clocks.
NATIVE_FORBIDDEN = frozenset({"fs", "net", "process", "env", "time", "io"})
# Crates that do I/O, read clocks or draw random numbers.
FORBIDDEN_CRATES = frozenset(
    {"tokio", "async-std", "mio", "socket2", "hyper", "reqwest", "ureq", "redis", "rdkafka"}
    | {"chrono", "time", "rand", "getrandom"}
)

_RUST_NOISE = re.compile(
    r"//[^\n]*"  # line comment (and doc comment)
    r"|/\*.*?\*/"  # block comment
    r"|b?r(?P<hashes>#*)\".*?\"(?P=hashes)"  # raw string
    r"|b?\"(?:\\.|[^\"\\])*\""  # string
    r"|b?'(?:\\.|[^'\\])'",  # char (a lifetime such as 'a has no closing quote)
    re.DOTALL,
)
_USE = re.compile(r"\buse\s+([^;]+);")
_QUALIFIED = re.compile(r"(?<![\w:])(?:::)?\s*(std|core|alloc)\s*::\s*(\w+)")


def _split_top(text: str) -> list[str]:
    """`a, b::{c, d}, e` -> ['a', 'b::{c, d}', 'e']: commas outside braces."""
    items, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item.strip() for item in items if item.strip()]


def _expand_use(tree: str, prefix: str = "") -> list[str]:
    """The paths of a `use` tree: `std::{fs, io::{self, Read}}` -> std::fs, std::io, std::io::Read
    (a rename `as x` changes no path)."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", tree)).removeprefix("::")
    head, brace, rest = tree.partition("{")
    if not brace:
        return [(prefix + head).removesuffix("::self")]
    return [
        path
        for item in _split_top(rest.removesuffix("}"))
        for path in _expand_use(item, prefix + head)
    ]


def rust_paths(source: str) -> list[str]:
    """The std/core/alloc paths a Rust source names: its `use` trees expanded, and the
    qualified paths in its code (`std::time::Instant::now()`), comments and strings left out."""
    code = _RUST_NOISE.sub(" ", source)
    paths = [path for tree in _USE.findall(code) for path in _expand_use(tree)]
    paths += [f"{root}::{module}" for root, module in _QUALIFIED.findall(code)]
    return paths


def forbidden_native(source: str) -> list[str]:
    found = set()
    for path in rust_paths(source):
        parts = re.sub(r"\s+", "", path).removeprefix("::").split("::")
        if len(parts) > 1 and parts[0] == "std" and parts[1] in NATIVE_FORBIDDEN:
            found.add(f"std::{parts[1]}")
    return sorted(found)


def test_the_native_core_is_found() -> None:
    assert any(path.name == "lib.rs" for path in NATIVE_SOURCES)


@pytest.mark.parametrize("path", NATIVE_SOURCES, ids=lambda p: p.name)
def test_native_core_does_no_io_and_reads_no_clock(path: Path) -> None:
    used = forbidden_native(path.read_text(encoding="utf-8"))
    assert not used, f"{path.name} uses {used}"


def test_native_core_depends_on_no_io_crate() -> None:
    manifest = tomllib.loads((NATIVE / "Cargo.toml").read_text(encoding="utf-8"))
    crates = set(manifest.get("dependencies", {})) | set(manifest.get("build-dependencies", {}))
    assert crates, "no dependencies read from Cargo.toml"
    assert not crates & FORBIDDEN_CRATES


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("use std::fs;", ["std::fs"]),
        ("use std::fs::File;", ["std::fs"]),
        ("use ::std::net::TcpStream;", ["std::net"]),
        ("use std::{collections::HashMap, fs::File};", ["std::fs"]),
        ("use std::{\n    io::{self, Read},\n    env,\n};", ["std::env", "std::io"]),
        ("use std::process as p;", ["std::process"]),
        ("fn f() { let t = std::time::Instant::now(); }", ["std::time"]),
        ("fn f() { let t = ::std :: time::SystemTime::now(); }", ["std::time"]),
        ('fn f() -> String { std::env::var("HOME").unwrap() }', ["std::env"]),
    ],
)
def test_the_native_check_catches(source: str, found: list[str]) -> None:
    assert forbidden_native(source) == found


@pytest.mark.parametrize(
    "source",
    [
        "use std::collections::HashMap;",
        "use std::{cmp::Ordering, hint::black_box};",
        "let x = std::mem::take(&mut y);",
        '// std::fs is not used here\nlet s = "std::net::TcpStream";',
        '/* std::time::Instant::now() */ let r = r#"std::env"#;',
        "fn f<'a>(x: &'a str) -> char { let q = '\"'; q }",
        "use crate::codec::{time, fs};",  # our own modules, whatever their names
        "mod io { pub fn write() {} }",
    ],
)
def test_the_native_check_leaves_pure_code_alone(source: str) -> None:
    assert forbidden_native(source) == []
