"""Socket.IO transport of the hub: handshake authentication and namespace routing.

Handlers here only parse, authenticate and call the hub engine; they never touch SQL.
"""

from __future__ import annotations

import logging
from typing import Any

import socketio
from socketio.exceptions import ConnectionRefusedError as SocketRefused

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.errors import Unavailable
from tutorhub_messaging.hub.transport import NamespaceNotifier, create_sio
from tutorhub_messaging.identity.tokens import InvalidToken, strip_bearer

log = logging.getLogger(__name__)

DEFAULT_NAMESPACES = ("/hub/chat", "/messaging-api/hub/chat")


def handshake_token(auth: Any, environ: dict[str, Any]) -> str | None:
    """``auth.token`` first; then the same HTTP sources REST reads (Bearer, query, header, cookie)."""
    if isinstance(auth, dict):
        token = auth.get("token")
        if isinstance(token, str) and token.strip():
            return strip_bearer(token) or None
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if authorization[:7].lower() == "bearer ":
        return strip_bearer(authorization) or None
    from urllib.parse import parse_qs

    query = parse_qs(environ.get("QUERY_STRING", ""))
    for candidate in (
        (query.get("access_token") or [None])[0],
        environ.get("HTTP_TUTORHUB_ACCESS_TOKEN"),
        _cookie(environ.get("HTTP_COOKIE", ""), "tutorhub-access-token"),
    ):
        if candidate:
            return strip_bearer(candidate) or None
    return None


def _cookie(header: str, name: str) -> str | None:
    from http.cookies import CookieError, SimpleCookie

    try:
        jar = SimpleCookie(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def build_hub(context: AppContext) -> socketio.AsyncServer:
    sio = create_sio(context.settings)
    namespaces: set[str] = set(DEFAULT_NAMESPACES)
    context.notifier = NamespaceNotifier(sio, namespaces)
    suffix = context.hub.namespace_suffix

    @sio.on("connect", namespace="*")  # type: ignore[untyped-decorator]
    async def connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if not namespace.endswith(suffix):
            raise SocketRefused(f"Unknown hub: {namespace[:100]}")
        token = handshake_token(auth, environ)
        if token is None:
            raise SocketRefused("Authentication required")
        try:
            principal = await context.authenticator.authenticate(token)
        except InvalidToken:
            raise SocketRefused("Invalid token") from None
        except Unavailable:
            raise SocketRefused("Service temporarily unavailable") from None
        if principal.is_service:
            raise SocketRefused("Invalid token")
        namespaces.add(namespace)
        await sio.save_session(sid, {"principal": principal}, namespace=namespace)

    return sio
