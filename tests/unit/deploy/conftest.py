"""What the tests of deploy/grafana and deploy/prometheus share: promtool, and the metric names
a PromQL expression reads against those the worker declares."""

from __future__ import annotations

import ast
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PROMTOOL_FROM_STACK = ROOT / "deploy/local/prometheus/bin/promtool"
# Series Prometheus itself writes for every scrape target.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# Exposed series per declared name: prometheus_client's text format.
SUFFIXES = {
    "Counter": ("",),  # declared with their `_total` (metrics.py's convention)
    "Gauge": ("",),
    "Histogram": ("_bucket", "_sum", "_count"),
}
KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    "inf",
    "nan",
}


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool from PATH or from `make promtool`; missing, the test fails (never skips: CI
    runs `make test`, which fetches it first) with the command that installs it."""
    found = shutil.which("promtool") or (
        str(PROMTOOL_FROM_STACK) if PROMTOOL_FROM_STACK.exists() else None
    )
    if found is None:
        pytest.fail(
            "promtool is missing: run `make promtool` (Debian's prometheus package, unpacked "
            "into deploy/local/prometheus/bin) or `sudo apt-get install -y prometheus`",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def exported_series() -> set[str]:
    """Every series name the worker's /metrics can show, from streams/runtime/metrics.py."""
    tree = ast.parse((ROOT / "streams/runtime/metrics.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in SUFFIXES
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names.update(node.args[0].value + suffix for suffix in SUFFIXES[node.func.id])
    assert len(names) > 20, names  # the parse found the declarations
    return names | PROMETHEUS_OWN


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers left once strings, label matchers,
    ranges, grouping lists, function calls and keywords are taken out."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    bare = re.sub(r"\{[^}]*\}", " ", bare)
    bare = re.sub(r"\[[^\]]*\]", " ", bare)
    bare = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", bare)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)\s*(\()?", bare):
        name, call = match.group(1), match.group(2)
        if call is None and name.lower() not in KEYWORDS:
            names.add(name)
    return names


@pytest.fixture(scope="session")
def names_of() -> Callable[[str], set[str]]:
    return metric_names
