"""The HTTP API's bearer token, the loopback rule of `scorer worker`, and the /accounts query's
validation (streams/runtime/http_auth.py, streams/runtime/http.py)."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from multidict import MultiDict
from pydantic import SecretStr, ValidationError

from streams.runtime.http import MAX_LIMIT, top_accounts_query
from streams.runtime.http_auth import bearer_auth, exposure_problem, is_loopback, token_matches
from streams.settings import Settings

TOKEN = "s3cret-token-0123456789"


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost", "LOCALHOST"]
)
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.7", "192.168.1.2", "scorer", ""])
def test_other_addresses_are_reachable_by_others(host: str) -> None:
    assert not is_loopback(host)


def test_a_non_loopback_worker_needs_a_token() -> None:
    problem = exposure_problem(Settings(web_host="0.0.0.0"))
    assert problem is not None and "set API_TOKEN" in problem
    assert exposure_problem(Settings(web_host="0.0.0.0", api_token=SecretStr(TOKEN))) is None
    assert exposure_problem(Settings(web_host="127.0.0.1")) is None


def test_a_short_token_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(api_token=SecretStr("short"))
    assert "16 characters" in str(caught.value) and "'short'" not in str(caught.value)


def test_the_token_never_shows_in_the_settings() -> None:
    settings = Settings(api_token=SecretStr(TOKEN))
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (f"Bearer {TOKEN}", True),
        (f"bearer {TOKEN}", True),
        (None, False),
        ("", False),
        (TOKEN, False),
        (f"Basic {TOKEN}", False),
        (f"Bearer {TOKEN}x", False),
        (f"Bearer {TOKEN[:-1]}", False),
        ("Bearer ", False),
        ("Bearer é", False),
        ("Bearer \udcff\udcfe", False),
    ],
)
def test_token_matches(header: str | None, matches: bool) -> None:
    assert token_matches(header, TOKEN) is matches


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path})


async def client_for(settings: Settings) -> TestClient[web.Request, web.Application]:
    app = web.Application(middlewares=[bearer_auth(settings)])
    for path in ("/healthz", "/metrics", "/accounts", "/accounts/{account_id:.+}"):
        app.router.add_get(path, ok)
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def guarded() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    client = await client_for(Settings(api_token=SecretStr(TOKEN)))
    yield client
    await client.close()


@pytest.mark.parametrize("path", ["/accounts", "/accounts/acme%2F1", "/metrics"])
async def test_pages_ask_for_the_token(guarded: TestClient, path: str) -> None:  # type: ignore[type-arg]
    missing = await guarded.get(path)
    wrong = await guarded.get(path, headers={"Authorization": "Bearer nope-nope-nope-nope"})
    right = await guarded.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    for reply in (missing, wrong):
        assert reply.status == 401
        assert reply.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in await reply.json()
        assert TOKEN not in await reply.text()
    assert right.status == 200


async def test_healthz_is_open(guarded: TestClient) -> None:  # type: ignore[type-arg]
    assert (await guarded.get("/healthz")).status == 200


async def test_metrics_public_opens_only_metrics() -> None:
    client = await client_for(Settings(api_token=SecretStr(TOKEN), metrics_public=True))
    try:
        assert (await client.get("/metrics")).status == 200
        assert (await client.get("/accounts")).status == 401
    finally:
        await client.close()


async def test_no_token_no_check() -> None:
    client = await client_for(Settings())
    try:
        assert (await client.get("/accounts")).status == 200
    finally:
        await client.close()


ENGINE = types.SimpleNamespace(
    models=[
        types.SimpleNamespace(
            id="fit", tiers=[types.SimpleNamespace(name="hot"), types.SimpleNamespace(name="cold")]
        ),
        types.SimpleNamespace(id="intent", tiers=[types.SimpleNamespace(name="hot")]),
    ]
)


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([], ("fit", None, 50)),
        ([("model", "intent"), ("tier", "hot"), ("limit", "7")], ("intent", "hot", 7)),
        ([("limit", str(MAX_LIMIT))], ("fit", None, MAX_LIMIT)),
        ([("limit", "0001")], ("fit", None, 1)),
    ],
)
def test_good_queries(pairs: list[tuple[str, str]], expected: tuple[object, ...]) -> None:
    assert top_accounts_query(MultiDict(pairs), ENGINE) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pairs", "reason"),
    [
        ([("limit", "ten")], "limit must be"),
        ([("limit", "-1")], "limit must be"),
        ([("limit", "0")], "limit must be"),
        ([("limit", str(MAX_LIMIT + 1))], "limit must be"),
        ([("limit", "9" * 5000)], "limit must be"),
        ([("limit", "1_000")], "limit must be"),
        ([("limit", " 7")], "limit must be"),
        ([("limit", "１０")], "limit must be"),
        ([("limit", "٣")], "limit must be"),
        ([("limit", "1.5")], "limit must be"),
        ([("limit", "")], "empty"),
        ([("model", "")], "empty"),
        ([("model", "nope")], "unknown model"),
        ([("model", "fït")], "unknown model"),
        ([("tier", "cold"), ("model", "intent")], "unknown tier"),
        ([("limit", "5"), ("limit", "6")], "more than once"),
        ([("model", "fit"), ("model", "intent")], "more than once"),
        ([("sort", "total")], "unknown parameter"),
    ],
)
def test_bad_queries(pairs: list[tuple[str, str]], reason: str) -> None:
    answer = top_accounts_query(MultiDict(pairs), ENGINE)  # type: ignore[arg-type]
    assert isinstance(answer, str) and reason in answer
