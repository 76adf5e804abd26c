"""The provisioned dashboard: every query parses (as a recording rule for `promtool check rules`)
and reads only series the worker exports; docker-compose.yml mounts what the provider reads."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
DASHBOARD = ROOT / "deploy/grafana/dashboards/scorer.json"
# Grafana's interval variables, as Prometheus would see them for a 15 s scrape.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def expressions() -> list[str]:
    found = []
    for panel in dashboard()["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found.append(expr)
    return found


def test_every_panel_queries_the_provisioned_datasource() -> None:
    panels = dashboard()["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        assert panel["targets"], panel["title"]
        assert panel["datasource"]["type"] == "prometheus"
        assert all(target["expr"].strip() for target in panel["targets"])


def test_every_expression_parses_as_a_recording_rule(promtool: str, tmp_path: Path) -> None:
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{index}", "expr": expr}
                    for index, expr in enumerate(expressions())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))

    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(expressions())} rules found" in result.stdout


def test_every_metric_is_one_the_worker_exports(
    exported_series: set[str], names_of: Callable[[str], set[str]]
) -> None:
    used = set().union(*(names_of(expr) for expr in expressions()))

    assert used - exported_series == set()
    # What the dashboard is for: each of these has a panel.
    assert {
        "scorer_events_consumed_total",
        "scorer_events_applied_total",
        "scorer_consumer_lag",
        "scorer_ingest_to_published_seconds_bucket",
        "scorer_dead_letters_total",
        "scorer_tier_changes_total",
        "scorer_accounts",
        "scorer_outbox_backlog",
        "scorer_redis_call_seconds_bucket",
        "scorer_rescored_accounts_total",
    } <= used


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (
            'sum by (code) (rate(scorer_dead_letters_total{code="x"}[5m]))',
            {"scorer_dead_letters_total"},
        ),
        ("histogram_quantile(0.99, sum by (le) (rate(a_bucket[1m]))) > 1", {"a_bucket"}),
        ("a / on (partition) group_left b unless c offset 5m", {"a", "b", "c"}),
    ],
)
def test_metric_names_are_read_from_an_expression(
    expr: str, names: set[str], names_of: Callable[[str], set[str]]
) -> None:
    assert names_of(expr) == names


def test_compose_mounts_the_dashboards_where_the_provider_reads_them() -> None:
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/scorer.yml").read_text()
    )
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    path = provider["providers"][0]["options"]["path"]

    assert f"./deploy/grafana/dashboards:{path}:ro" in compose["services"]["grafana"]["volumes"]
