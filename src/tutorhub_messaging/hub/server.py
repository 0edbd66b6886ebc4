"""Socket.IO wiring of the hub: handshake authentication, namespace routing, and the catch-all
handlers that hand every client event to ``hub.handlers.dispatch``.

Handlers here only parse, authenticate and call the hub; they never touch SQL.
"""

from __future__ import annotations

import asyncio
import logging
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import socketio
from socketio.exceptions import ConnectionRefusedError as SocketRefused

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.errors import Unavailable
from tutorhub_messaging.hub.closing import HubClosing
from tutorhub_messaging.hub.expiry import CredentialWatch
from tutorhub_messaging.hub.handlers import dispatch
from tutorhub_messaging.hub.handshakes import client_address
from tutorhub_messaging.hub.membership import disconnect as disconnect_from_rooms
from tutorhub_messaging.hub.runtime import Connection, HubRuntime
from tutorhub_messaging.hub.scaleout import client_manager, hub_state, install_liveness
from tutorhub_messaging.hub.state import SocketRef, StatePresence
from tutorhub_messaging.hub.transport import (
    NamespaceNotifier,
    TransportGuard,
    create_sio,
    end_polls_on_close,
)
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.identity.tokens import InvalidToken, TokenExpired, strip_bearer
from tutorhub_messaging.ops.metrics import SOCKETS_CONNECTED, UNKNOWN_NAMESPACES_REFUSED
from tutorhub_messaging.origins import COOKIE_IGNORED

log = logging.getLogger(__name__)


def handshake_token(auth: Any, environ: dict[str, Any]) -> str | None:
    """``auth.token`` first; then the same HTTP sources REST reads (Bearer, query, header, cookie)."""
    if isinstance(auth, dict):
        token = auth.get("token")
        if isinstance(token, str) and token.strip():
            return strip_bearer(token) or None
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if authorization[:7].lower() == "bearer ":
        return strip_bearer(authorization) or None
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
    try:
        jar = SimpleCookie(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel else None


def build_hub(context: AppContext) -> socketio.AsyncServer:
    sio = create_sio(context.settings, client_manager(context.settings))
    accepted = frozenset(context.settings.hub_namespaces)
    notifier = NamespaceNotifier(sio, context.settings.hub_namespaces)
    context.notifier = notifier
    state = hub_state(context)
    context.outbox.presence = StatePresence(state)
    hub = HubRuntime(sio, context, state, notifier)
    context.hub_control = HubClosing(hub)
    install_liveness(hub)
    watch = hub.credentials = CredentialWatch(hub)
    TransportGuard(sio, context.settings)
    end_polls_on_close(sio)
    served = ", ".join(notifier.namespaces)
    cleanups: set[asyncio.Task[None]] = set()

    @sio.on("connect", namespace="*")  # type: ignore[untyped-decorator]
    async def connect(namespace: str, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        address = client_address(environ.get("asgi.scope"))
        if namespace not in accepted:
            UNKNOWN_NAMESPACES_REFUSED.inc()
            context.refused_addresses.note(address, context.settings.hub_unknown_namespace_refusal_weight)
            raise SocketRefused(f"Unknown hub: {namespace[:100]} (this service serves {served})")
        try:
            principal = await _authenticate(context, auth, environ)
        except SocketRefused as exc:
            if _bad_credentials(exc):
                context.refused_addresses.note(address)
            raise
        refusal = await hub.budgets.connects_refusal(principal.user_id)
        if refusal is not None:
            context.refused_addresses.note(address)
        else:
            refusal = await hub.budgets.sockets_refusal(state, principal.user_id)
        if refusal is not None:
            raise SocketRefused(refusal)
        await _refresh_directory(context, principal)
        try:
            await state.add_socket(SocketRef(sid, namespace), principal.user_id)
        except Exception:
            log.exception("hub could not register a socket")
            raise SocketRefused("Service temporarily unavailable") from None
        if not _transport_open(sio, sid, namespace):
            # Closed while we were awaiting: python-socketio sends no disconnect for a socket
            # still connecting, so keeping it would leave a ghost in the hub state.
            await state.remove_socket(sid)
            raise SocketRefused("Connection closed")
        # From here on nothing awaits until the handler returns: the disconnect handler sees it.
        connection = Connection(sid, namespace, principal)
        hub.connections[sid] = connection
        watch.track(connection)
        SOCKETS_CONNECTED.inc()

    @sio.on("disconnect", namespace="*")  # type: ignore[untyped-decorator]
    async def disconnect(namespace: str, sid: str, reason: Any = None) -> None:
        connection = hub.connections.get(sid)
        if connection is None:
            return
        connection.closing = True
        # Not awaited here: the clean-up waits for the socket's in-flight events (its lock), and
        # one of them may be what is closing the transport.
        task = asyncio.create_task(_clean_up(hub, connection))
        cleanups.add(task)
        task.add_done_callback(cleanups.discard)

    @sio.on("*", namespace="*")  # type: ignore[untyped-decorator]
    async def any_event(event: Any, namespace: str, sid: str, *args: Any) -> dict[str, Any] | None:
        return await dispatch(hub, event, sid, args)

    return sio


def _bad_credentials(exc: SocketRefused) -> bool:
    """No token or an invalid one: not an expired token (a correct client refreshes it and comes
    back), not a cookie from another site's page, not an outage of the service."""
    args = exc.error_args if isinstance(exc.error_args, dict) else {}
    data = args.get("data")
    code = data.get("code") if isinstance(data, dict) else None
    return args.get("message") in ("Authentication required", "Invalid token") and code is None


def _transport_open(sio: socketio.AsyncServer, sid: str, namespace: str) -> bool:
    eio_sid = sio.manager.eio_sid_from_sid(sid, namespace)
    socket = sio.eio.sockets.get(eio_sid) if eio_sid is not None else None
    return socket is not None and not socket.closed and not socket.closing


async def _authenticate(context: AppContext, auth: Any, environ: dict[str, Any]) -> Principal:
    token = handshake_token(auth, environ)
    if token is None:
        if environ.get("asgi.scope", {}).get(COOKIE_IGNORED):
            # The only credential was a cookie sent by another site's page.
            raise SocketRefused("Authentication required", {"code": "COOKIE_FROM_FOREIGN_ORIGIN"})
        raise SocketRefused("Authentication required")
    try:
        principal = await context.authenticator.authenticate(token)
    except TokenExpired:
        # The guides' text, plus a reason the client can act on: ``err.data.code``.
        raise SocketRefused("Invalid token", {"code": "TOKEN_EXPIRED"}) from None
    except InvalidToken:
        raise SocketRefused("Invalid token") from None
    except Unavailable:
        raise SocketRefused("Service temporarily unavailable") from None
    except Exception:
        log.exception("hub handshake failed unexpectedly")
        raise SocketRefused("Service temporarily unavailable") from None
    if principal.is_service:
        raise SocketRefused("Invalid token")
    return principal


async def _refresh_directory(context: AppContext, principal: Principal) -> None:
    """Connecting counts as an authenticated call: keep the user's directory row current."""
    try:
        await context.directory.refresh_once(context.db.unit_of_work, principal)
    except Exception:
        # Names shown for offline users may lag; that is no reason to refuse the connection.
        log.warning("directory refresh at connect failed", exc_info=True)


async def _clean_up(hub: HubRuntime, connection: Connection) -> None:
    try:
        await disconnect_from_rooms(hub, connection)
    except Exception:
        log.exception("hub clean-up after a disconnect failed")
    finally:
        hub.connections.pop(connection.sid, None)
        SOCKETS_CONNECTED.dec()
