"""`scoring/` stays pure: no I/O libraries, no reading of the clock.

Scores must come out the same live, in replay and in rescoring (SCORING.md section 5), so the
scoring code gets time and data passed in; `streams/` does the I/O. This reads the source of every
module under scoring/ (also the ones written after this test) and checks it statically.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SCORING = Path(__file__).resolve().parents[3] / "scoring"
MODULES = sorted(SCORING.rglob("*.py"))

FORBIDDEN_IMPORTS = frozenset(
    {"faust", "aiokafka", "redis", "mode", "socket", "requests", "urllib", "subprocess", "asyncio"}
)
# Fully qualified, whatever the import style: `time.time`, `from time import time`, `import
# datetime as dt; dt.datetime.now`... all resolve to one of these.
CLOCK_READS = frozenset(
    {
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
    }
)


def forbidden_imports(tree: ast.AST) -> list[str]:
    """`import x.y` / `from x.y import z` of a forbidden top package; relative imports are ours."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [
            f"line {node.lineno}: import {name}"
            for name in names
            if _top(name) in FORBIDDEN_IMPORTS
        ]
    return found


def clock_reads(tree: ast.AST) -> list[str]:
    """Every use of a clock-reading function, called or merely referenced (`default=time.time`)."""
    aliases = _import_aliases(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Attribute):
            name = _qualified(node, aliases)
            if name in CLOCK_READS:
                found.append(f"line {node.lineno}: {name}")
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


def _import_aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> what it stands for: `dt` -> `datetime`, `now` -> `time.time`..."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    aliases[_top(alias.name)] = _top(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def _qualified(node: ast.expr, aliases: dict[str, str]) -> str | None:
    """`a.b.c` with `a` resolved through the imports; None when the base is not an import."""
    if isinstance(node, ast.Name):
        return aliases.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _qualified(node.value, aliases)
        return f"{base}.{node.attr}" if base else None
    return None


def test_there_is_scoring_code_to_check() -> None:
    assert SCORING / "decode.py" in MODULES


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SCORING)))
def test_scoring_imports_no_io_library(path: Path) -> None:
    assert forbidden_imports(ast.parse(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SCORING)))
def test_scoring_never_reads_the_clock(path: Path) -> None:
    assert clock_reads(ast.parse(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    "source",
    [
        "import redis",
        "import urllib.request",
        "from asyncio import sleep",
        "from aiokafka.consumer import AIOKafkaConsumer",
        "def f():\n    import subprocess",
    ],
)
def test_the_import_check_catches(source: str) -> None:
    assert forbidden_imports(ast.parse(source))


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
        "from datetime import datetime\nx = datetime.fromtimestamp(0.0)",
        "import scoring.timefmt as time\nx = time.utc_day(0.0)",
        "from scoring import model\nx = model.Tier",
        "import orjson\nx = orjson.loads(b'{}')",
    ],
)
def test_the_checks_leave_pure_code_alone(source: str) -> None:
    tree = ast.parse(source)
    assert forbidden_imports(tree) == clock_reads(tree) == []


NATIVE_SOURCES = sorted((SCORING / "native" / "src").rglob("*.rs"))
# The native core gets time and data passed in like the Python side: no files, sockets,
# processes, environment or clocks.
NATIVE_FORBIDDEN = ("std::fs", "std::net", "std::process", "std::env", "std::time", "std::io")


def test_the_native_core_is_found() -> None:
    assert any(path.name == "lib.rs" for path in NATIVE_SOURCES)


@pytest.mark.parametrize("path", NATIVE_SOURCES, ids=lambda p: p.name)
def test_native_core_does_no_io_and_reads_no_clock(path: Path) -> None:
    source = path.read_text()
    used = [name for name in NATIVE_FORBIDDEN if name in source]
    assert not used, f"{path.name} uses {used}"
