"""deploy/prometheus/rules.yml: promtool accepts it, its unit tests (rules.test.yml) pass, it
reads only series the worker exports, and docker-compose.yml's Prometheus loads it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = ROOT / "deploy/prometheus"


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load((PROMETHEUS / "rules.yml").read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rules(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "check", "rules", str(PROMETHEUS / "rules.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_unit_tests_pass(promtool: str) -> None:
    result = subprocess.run(
        [promtool, "test", "rules", str(PROMETHEUS / "rules.test.yml")],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_unit_tested_and_documented() -> None:
    tests = yaml.safe_load((PROMETHEUS / "rules.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"]}
    operations = (ROOT / "docs/operations.md").read_text()

    for rule in rules():
        assert rule["alert"] in tested
        assert rule["alert"] in operations
        assert {"summary", "description"} <= set(rule["annotations"])
        assert rule["labels"]["severity"] in {"warning", "critical"}


def test_every_metric_is_one_the_worker_exports(
    exported_series: set[str], names_of: Callable[[str], set[str]]
) -> None:
    used = set().union(*(names_of(rule["expr"]) for rule in rules()))

    assert used - exported_series == set()


def test_prometheus_loads_the_rules() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())

    assert config["rule_files"] == ["rules.yml"]
    assert (
        "./deploy/prometheus/rules.yml:/etc/prometheus/rules.yml:ro"
        in compose["services"]["prometheus"]["volumes"]
    )
