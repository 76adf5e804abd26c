"""The HTTP API of a real `scorer worker` against strangers: its bearer token, its refusal to
start on a non-loopback address without one, and hostile query parameters (400, never 500)."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from streams.offline.simulate import simulate
from streams.runtime.kafka_admin import delete_topics_with_prefix, wait_for_topics
from streams.runtime.topics import EVENTS, PROFILES
from tests.integration.live import ROOT, LiveRun
from tests.integration.test_worker_features import healthy

pytestmark = [pytest.mark.kafka, pytest.mark.redis, pytest.mark.slow]

TOKEN = "integration-token-0123456789abcdef"


def get(port: int, path: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture
async def run(tmp_path: Path, test_id: str, kafka_bootstrap: str, redis_client) -> LiveRun:
    live = LiveRun(test_id, tmp_path, extra_env={"WEB_HOST": "0.0.0.0", "API_TOKEN": TOKEN})
    yield live
    live.stop_all()
    await delete_topics_with_prefix(kafka_bootstrap, f"test-{test_id}")


@pytest.fixture
async def port(run: LiveRun, tmp_path: Path) -> int:
    market = simulate(3, 30, end=time.time() - 600, seed=7, domain_share=0.0)
    profiles, _ = market.write(tmp_path / "market")
    run.start_worker()
    names = [run.settings.topic(n) for n in (EVENTS, PROFILES)]
    await wait_for_topics(run.settings.kafka_bootstrap, names)
    await healthy(run.ports[0])
    run.cli("produce", "--profiles", str(profiles))
    await run.wait_applied("profiles")
    return run.ports[0]


def test_a_worker_on_every_address_without_a_token_refuses_to_start(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker"],
        env={"PATH": "/usr/bin:/bin", "WEB_HOST": "0.0.0.0", "DATA_DIR": str(tmp_path)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "set API_TOKEN" in result.stderr and "Traceback" not in result.stderr


async def test_pages_ask_for_the_token_and_healthz_does_not(port: int) -> None:
    account = "/accounts/acct-000001"
    for path in ("/accounts", account, "/metrics"):
        for token in (None, "wrong-token-0123456789abcdef", TOKEN[:-1], "\xff\xfe"):
            status, headers, body = get(port, path, token)
            assert status == 401, (path, token)
            assert headers["WWW-Authenticate"].startswith("Bearer")
            assert "error" in orjson.loads(body)
            assert TOKEN.encode() not in body
        assert get(port, path, TOKEN)[0] == 200, path
    status, _, body = get(port, account, TOKEN)
    assert orjson.loads(body)["account_id"] == "acct-000001"
    assert get(port, "/healthz")[0] == 200


BAD_QUERIES = [
    "limit=ten",
    "limit=-1",
    "limit=0",
    "limit=1001",
    "limit=" + "9" * 4000,
    "limit=",
    "limit=1.5",
    "limit=1_000",
    "limit=%20%207",
    "limit=%EF%BC%91%EF%BC%90",  # fullwidth digits
    "limit=%00",
    "limit=5&limit=6",
    "model=",
    "model=nope",
    "model=new-business&model=expansion",
    "model=%F0%9F%92%A5",  # an emoji
    "model=%FF%FE",  # not UTF-8
    "model=new-business&tier=nope",
    "tier=",
    "tier=%E2%80%AEhot",
    "sort=total",
    "model[]=new-business",
]


async def test_bad_parameters_get_400_and_a_json_error(port: int) -> None:
    for query in BAD_QUERIES:
        status, headers, body = get(port, f"/accounts?{query}", TOKEN)
        assert status == 400, (query, body[:200])
        assert headers["Content-Type"].startswith("application/json"), query
        assert set(orjson.loads(body)) == {"error"}, query
        assert b"Traceback" not in body


async def test_odd_account_ids_never_get_a_500(port: int) -> None:
    for path in (
        "/accounts/%00",
        "/accounts/%FF",
        "/accounts/%7B%7D%2F..%2F",
        "/accounts/" + "x" * 2000,
    ):
        status, _, body = get(port, path, TOKEN)
        assert status in (200, 404), (path, status)
        assert b"Traceback" not in body
