"""docker-compose.yml cannot run here (no Docker engine), so its shape is checked instead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_are_the_stack(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {"kafka", "redis", "scorer", "prometheus", "grafana"}


def test_kafka_is_4_1_in_kraft_mode(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert kafka["image"].startswith("apache/kafka:4.1.")
    env = kafka["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "1"
    assert env["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == "0"
    assert "ZOOKEEPER" not in " ".join(env)


def test_redis_7_with_aof_on_a_volume(compose: dict[str, Any]) -> None:
    redis = compose["services"]["redis"]
    assert redis["image"].split(":")[1].startswith("7")
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    assert any(v.endswith(":/data") for v in redis["volumes"])
    assert redis["volumes"][0].split(":")[0] in compose["volumes"]


def test_scorer_points_at_the_stack_and_waits_for_it(compose: dict[str, Any]) -> None:
    scorer = compose["services"]["scorer"]
    assert (ROOT / scorer["build"]["dockerfile"]).is_file()
    assert scorer["environment"]["KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert scorer["environment"]["REDIS_URL"].startswith("redis://redis:6379")
    assert scorer["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert scorer["depends_on"]["redis"]["condition"] == "service_healthy"


def test_prometheus_scrapes_the_scorer_and_grafana_reads_prometheus(
    compose: dict[str, Any],
) -> None:
    mounts = {
        name: [v.split(":")[0] for v in compose["services"][name]["volumes"]]
        for name in ("prometheus", "grafana")
    }
    prometheus = yaml.safe_load((ROOT / mounts["prometheus"][0]).read_text())
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == ["scorer:6066"]
    datasource = ROOT / mounts["grafana"][0] / "datasources" / "prometheus.yml"
    assert (
        yaml.safe_load(datasource.read_text())["datasources"][0]["url"] == "http://prometheus:9090"
    )


def test_ports_bind_to_loopback_only(compose: dict[str, Any]) -> None:
    for service in compose["services"].values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port
