"""Addresses whose Socket.IO connects keep being refused: their new transports are refused before
any Engine.IO session is made.

A handshake costs the process about a millisecond however it ends (the websocket upgrade, an
Engine.IO session, its tasks), and refusing a made-up namespace or a bad token happens only after
it. A client that sprays such connects (a thousand in a second or two) would keep the process busy
for everyone. So the refusals a correct client never causes (an unknown namespace, a missing or
invalid token, the connect budget) are counted per client address in this process; past
``HUB_CONNECT_REFUSALS_PER_ADDRESS`` per window, a new transport from that address is refused at
once: a websocket closed before it is accepted (the server answers 403), a polling handshake
``429``. Transports already open are untouched, and so is every other address. The address is
the peer's, or the one a trusted proxy forwards (``X-Forwarded-For``, trusted from the addresses in
``FORWARDED_ALLOW_IPS``, by default 127.0.0.1).

An unknown namespace counts ``HUB_UNKNOWN_NAMESPACE_REFUSAL_WEIGHT`` times (10). A missing or
invalid token can come from many users behind one address (a campus network, after a key
rotation), but no client names a hub this service does not serve unless it is misconfigured, and
then every one of its connects fails anyway. A spray of made-up namespaces is blocked after a
tenth as many handshakes, each of which costs as much as a real connect.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from tutorhub_messaging.hub.ratelimit import InMemoryRateLimiter, Window
from tutorhub_messaging.ops.metrics import BUDGET_REFUSALS

SOCKET_PATH = "/socket.io"


def client_address(scope: Any) -> str | None:
    client = scope.get("client") if isinstance(scope, dict) else None
    return str(client[0]) if client else None


class RefusedAddresses:
    """Refused connects per client address per window, in this process."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = Window(limit, window_seconds)
        self._counts = InMemoryRateLimiter(limit, window_seconds)

    def note(self, address: str | None, weight: int = 1) -> None:
        if address is None:
            return
        for _ in range(weight):  # one at a time, so a heavy refusal still fills the window up
            if not self._counts.take_now(address, self.window):
                break

    def blocked(self, address: str | None) -> bool:
        return address is not None and self._counts.full(address, self.window)


def _new_transport(scope: Scope) -> bool:
    """An Engine.IO handshake: a request to the Socket.IO path that names no session."""
    if not str(scope.get("path", "")).startswith(SOCKET_PATH):
        return False
    return b"sid=" not in bytes(scope.get("query_string") or b"")


class HandshakeGuard:
    """ASGI middleware in front of Engine.IO: refuses new transports from blocked addresses."""

    def __init__(self, app: ASGIApp, addresses: RefusedAddresses) -> None:
        self.app = app
        self.addresses = addresses

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine: the inner app's is returned as is, so this layer keeps no frame alive
        # for as long as a websocket lasts (~0.3-0.4 KB for each of 10,000 idle sockets).
        if (
            scope["type"] in ("http", "websocket")
            and _new_transport(scope)
            and self.addresses.blocked(client_address(scope))
        ):
            return self._refuse(scope, send)
        return self.app(scope, receive, send)

    @staticmethod
    async def _refuse(scope: Scope, send: Send) -> None:
        BUDGET_REFUSALS.labels(budget="handshakes", scope="address", measure="refused connects").inc()
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            body = orjson.dumps({"code": 429, "message": "Too many refused connections from this address"})
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [(b"content-type", b"application/json"), (b"retry-after", b"10")],
                }
            )
            await send({"type": "http.response.body", "body": body})
