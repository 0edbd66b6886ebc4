"""Which browser origins may use the access-token cookie: cross-site request forgery and socket
hijacking defence for REST and the hub alike.

A browser attaches cookies to requests another site makes (a websocket handshake above all, which
no CORS rule covers), so a cookie alone proves nothing about who is asking. The
``tutorhub-access-token`` cookie is therefore honoured only when the request comes from the
service's own origin, from an origin listed explicitly in ``MESSAGING_CORS_ORIGINS``, or from no
browser at all (no ``Origin`` header). From any other origin the cookie is removed before the
request reaches the application: a token passed explicitly (``auth.token``, ``Authorization``, the
``access_token`` query or the ``tutorhub-access-token`` header) still works from anywhere the CORS
setting allows, since another site's page cannot read it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Iterable
from http.cookies import CookieError, SimpleCookie

from starlette.types import ASGIApp, Receive, Scope, Send

from tutorhub_messaging.ops.metrics import FOREIGN_COOKIES_IGNORED

log = logging.getLogger(__name__)

TOKEN_COOKIE = "tutorhub-access-token"
# What the request's own origin is called when the scope says ws/wss.
_HTTP_SCHEME = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
_DEFAULT_PORT = {"http": "80", "https": "443"}
# Set in the ASGI scope when the cookie was removed, so a refusal can say why.
COOKIE_IGNORED = "tutorhub.foreign_cookie_ignored"


def _normalise(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, without the scheme's default port."""
    origin = origin.strip().lower().rstrip("/")
    scheme, sep, rest = origin.partition("://")
    if not sep:
        return origin
    host, colon, port = rest.rpartition(":")
    if colon and port == _DEFAULT_PORT.get(scheme):
        rest = host
    return f"{scheme}://{rest}"


def own_origins(scope: Scope) -> set[str]:
    """The origins that are this service as the client reached it (directly or via a proxy)."""
    headers = {name: value.decode("latin-1") for name, value in scope.get("headers") or []}
    scheme = _HTTP_SCHEME.get(str(scope.get("scheme", "http")), "http")
    origins: set[str] = set()
    host = headers.get(b"host")
    if host:
        origins.add(_normalise(f"{scheme}://{host}"))
    forwarded_host = headers.get(b"x-forwarded-host")
    forwarded_proto = headers.get(b"x-forwarded-proto")
    if forwarded_host or forwarded_proto:
        proto = (forwarded_proto or scheme).split(",")[0].strip()
        where = (forwarded_host or host or "").split(",")[0].strip()
        if where:
            origins.add(_normalise(f"{proto}://{where}"))
    return origins


class CookieOriginGuard:
    """Removes the access-token cookie from requests of foreign browser origins (see the module)."""

    def __init__(self, app: ASGIApp, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed = {_normalise(o) for o in allowed_origins if o.strip() != "*"}

    def trusts(self, scope: Scope, origin: str) -> bool:
        normalised = _normalise(origin)
        return normalised in self.allowed or normalised in own_origins(scope)

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine: no frame of this layer stays alive for as long as a websocket lasts.
        if scope["type"] in ("http", "websocket"):
            scope = self._guard(scope)
        return self.app(scope, receive, send)

    def _guard(self, scope: Scope) -> Scope:
        headers: list[tuple[bytes, bytes]] = list(scope.get("headers") or [])
        origin = next((v for k, v in headers if k == b"origin"), None)
        if origin is None or not any(k == b"cookie" and TOKEN_COOKIE.encode() in v for k, v in headers):
            return scope
        if self.trusts(scope, origin.decode("latin-1")):
            return scope
        kept: list[tuple[bytes, bytes]] = []
        for name, value in headers:
            if name == b"cookie":
                value = _without_token_cookie(value)
                if not value:
                    continue
            kept.append((name, value))
        FOREIGN_COOKIES_IGNORED.inc()
        log.info("ignoring the access-token cookie of a request from a foreign origin")
        return {**scope, "headers": kept, COOKIE_IGNORED: True}


def _without_token_cookie(header: bytes) -> bytes:
    try:
        jar = SimpleCookie(header.decode("latin-1"))
    except CookieError:
        # Unparseable: keep nothing of it rather than guess which part is the token.
        return b""
    kept = [f"{name}={morsel.coded_value}" for name, morsel in jar.items() if name != TOKEN_COOKIE]
    return "; ".join(kept).encode("latin-1")
