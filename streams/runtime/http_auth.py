"""Who may read the HTTP API: a bearer token on every page but `/healthz`, and the rule that a
worker reachable from other hosts has one.

Without `API_TOKEN` the pages are open, which the worker allows only on a loopback address
(`exposure_problem`, checked at start-up by `scorer worker`).
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web

from streams.settings import Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]

OPEN_PATHS = frozenset({"/healthz"})


def is_loopback(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1 (brackets allowed): addresses only this host
    reaches. Anything else, `0.0.0.0`, `::` and host names included, is reachable by others."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def exposure_problem(settings: Settings) -> str | None:
    """Why the worker must not start with these settings, or None: its HTTP API would answer
    strangers (a non-loopback WEB_HOST without API_TOKEN)."""
    if settings.api_token is None and not is_loopback(settings.web_host):
        return (
            f"WEB_HOST={settings.web_host} is not a loopback address, so account scores and "
            "owner emails would be open to anyone who reaches the port: set API_TOKEN to a long "
            "random secret (clients send `Authorization: Bearer <token>`), or bind WEB_HOST to "
            "127.0.0.1"
        )
    return None


def token_matches(header: str | None, token: str) -> bool:
    """True when `header` is `Bearer <token>`; the comparison takes the same time whatever
    the sent token shares with the right one."""
    scheme, _, sent = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    # aiohttp keeps a header's bytes that are not UTF-8 as surrogates: they must not raise.
    return hmac.compare_digest(sent.strip().encode("utf-8", "surrogateescape"), token.encode())


def unauthorized(reason: str) -> web.Response:
    """401 with a JSON error and the challenge RFC 6750 asks for."""
    return web.json_response(
        {"error": reason}, status=401, headers={"WWW-Authenticate": 'Bearer realm="scorer"'}
    )


def bearer_auth(settings: Settings) -> Middleware:
    """An aiohttp middleware asking for `API_TOKEN` on every path but `/healthz` (and
    `/metrics` when METRICS_PUBLIC); with no token set it lets every request through."""
    open_paths = OPEN_PATHS | ({"/metrics"} if settings.metrics_public else set())
    token = settings.api_token.get_secret_value() if settings.api_token else None

    @web.middleware
    async def check_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token is None or request.path in open_paths:
            return await handler(request)
        header = request.headers.get("Authorization")
        if header is None:
            return unauthorized("missing bearer token (Authorization: Bearer <API_TOKEN>)")
        if not token_matches(header, token):
            return unauthorized("wrong bearer token")
        return await handler(request)

    return check_token
