"""The Socket.IO server object, the room notifier built on it, and what guards each transport:
the connect timeout, bounded outgoing buffers, and closing on undecodable packets."""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any
from urllib.parse import parse_qs

import orjson
import socketio
from engineio import exceptions as engineio_exceptions
from engineio import packet as engineio_packet
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutorhub_messaging.hub.arrivals import WatchingManager
from tutorhub_messaging.hub.send_buffer import SendBuffer, SendBufferLimits
from tutorhub_messaging.messages.service import MESSAGE_ARRIVED
from tutorhub_messaging.ops.metrics import (
    CONNECT_TIMEOUTS,
    MALFORMED_TRANSPORTS_CLOSED,
    MESSAGES_OUT,
    SLOW_SOCKETS_DISCONNECTED,
)
from tutorhub_messaging.settings import Settings

log = logging.getLogger(__name__)


class _OrjsonCodec:
    """python-socketio's ``json`` hook: orjson is several times faster than the stdlib."""

    @staticmethod
    def dumps(obj: Any, *args: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(data: str | bytes, *args: Any, **kwargs: Any) -> Any:
        return orjson.loads(data)


class HubPacket(socketio.packet.Packet):  # type: ignore[misc]
    """python-socketio's packet with a cheaper test for binary attachments.

    The library walks every list and dict of an outgoing payload looking for bytes, building a
    list and a reduce at each level: for a broadcast ``chatMessage`` that walk cost more than
    encoding it. orjson refuses bytes, so a payload it encodes has none; only a payload it refuses
    (bytes, or something else it cannot encode) takes the library's walk. Same answer, either way.
    """

    def decode(self, encoded_packet: Any) -> int:
        """python-socketio's decoding, refusing what the hub never accepts (the transport that
        sent it is then closed, see ``TransportGuard``): binary packets, whose attachments
        python-socketio would collect without limit, and events without a string name, which
        it would fail on in a task of its own ("Task exception was never retrieved")."""
        attachments = int(super().decode(encoded_packet))
        if self.packet_type in (socketio.packet.BINARY_EVENT, socketio.packet.BINARY_ACK):
            raise ValueError("binary packets are not accepted")
        if self.packet_type == socketio.packet.EVENT and not (
            isinstance(self.data, list) and self.data and isinstance(self.data[0], str)
        ):
            raise ValueError("an event must be a list starting with its name")
        return attachments

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        try:
            orjson.dumps(data)
        except TypeError:
            return bool(super().data_is_binary(data))
        return False


def create_sio(
    settings: Settings, client_manager: socketio.AsyncManager | None = None
) -> socketio.AsyncServer:
    origins: Any = "*" if "*" in settings.cors_origins else settings.cors_origins
    return socketio.AsyncServer(
        async_mode="asgi",
        client_manager=client_manager,
        namespaces="*",  # accept every namespace here, refuse unknown hubs readably in connect
        cors_allowed_origins=origins,
        # Engine.IO echoes the caller's Origin; with "*" that must not come with
        # Allow-Credentials, or any site could read a cookie-authenticated polling session.
        cors_credentials="*" not in settings.cors_origins,
        json=_OrjsonCodec,
        serializer=HubPacket,
        # Above the message limit (with room for JSON escaping and the envelope), so an oversized
        # message gets MESSAGE_TOO_LARGE instead of a dropped transport.
        max_http_buffer_size=max(settings.max_message_bytes * 8, 1_000_000),
        logger=False,
        engineio_logger=False,
    )


class NamespaceNotifier:
    """Emits to a room in every namespace the hub is served under.

    Rooms are per namespace in Socket.IO, and clients reach the chat hub as ``/hub/chat``,
    ``/messaging-api/hub/chat`` or another configured namespace, so a room's sockets may be
    spread over several. The set is fixed by configuration (no other namespace is accepted), so
    every process addresses the same namespaces and a broadcast costs the same whatever clients
    connect: one emit per configured namespace locally, and one message through Redis for all of
    them (``hub.redis_broadcasts``).
    """

    def __init__(self, sio: socketio.AsyncServer, namespaces: Iterable[str]) -> None:
        self.sio = sio
        self.namespaces = tuple(dict.fromkeys(namespaces))

    async def emit_to_room(
        self, room_id: str, event: str, payload: dict[str, Any], *, skip_sid: str | None = None
    ) -> None:
        await self.emit_events_to_room(room_id, [(event, payload)], skip_sid=skip_sid)

    async def emit_events_to_room(
        self, room_id: str, events: Sequence[tuple[str, dict[str, Any]]], *, skip_sid: str | None = None
    ) -> None:
        """Events, in order, to the room's sockets: one message through Redis for all of them
        (a user's arrival is ``hub:presence`` and ``hub:online``: one publish, not two)."""
        for event, _payload in events:
            if event == MESSAGE_ARRIVED:
                for namespace in self.namespaces:
                    MESSAGES_OUT.inc(self._recipients(namespace, room_id, skip_sid))
        manager: WatchingManager = self.sio.manager
        await manager.emit_in_namespaces(self.namespaces, events, room=room_id, skip_sid=skip_sid)

    def _recipients(self, namespace: str, room_id: str, skip_sid: str | None) -> int:
        return sum(1 for sid, _ in self.sio.manager.get_participants(namespace, room_id) if sid != skip_sid)


async def close_transport(sio: socketio.AsyncServer, eio_sid: str, *, forget: bool = True) -> None:
    """Close an Engine.IO session *and* the connection under it, at once.

    python-engineio's ``disconnect`` only queues a CLOSE packet and waits for it to be taken: a
    polling client reads it, but the JavaScript client ignores it on a websocket, which stays
    open and looks alive until the ping timeout (~45 s) while everything sent on it vanishes.
    Ending the writer (python-engineio's ``None`` mark) makes it close the websocket itself.
    Never waits for the peer. ``forget=False`` leaves removing the session to python-engineio
    (when it is about to do so itself).
    """
    eio = sio.eio
    socket = eio.sockets.get(eio_sid)
    if socket is None:
        return
    if not socket.closed and not socket.closing:
        await socket.close(wait=False, abort=False, reason=eio.reason.SERVER_DISCONNECT)
    socket.queue.put_nowait(None)
    if forget:
        eio.sockets.pop(eio_sid, None)


def _aborter(send: Any) -> Callable[[], None] | None:
    """A way to drop the TCP connection under an ASGI websocket without a closing handshake.

    ASGI has none: closing a websocket queues a close frame behind everything the peer has not
    read, and a peer that reads nothing never lets it through. uvicorn's ``send`` is a method of
    its protocol object, which holds the asyncio transport; other servers get None (and the
    connection then ends at the server's own keepalive timeout).
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    abort = getattr(transport, "abort", None)
    return abort if callable(abort) else None


class TransportGuard:
    """Per Engine.IO session: the connect timeout, a bounded outgoing buffer, and closing the
    transport on a packet that cannot be decoded.

    python-socketio has no connect timeout (the JavaScript server's ``connectTimeout``): a timer
    armed when a transport opens closes it unless it has joined a namespace by then. The outgoing
    queue becomes a ``SendBuffer`` (see ``hub.send_buffer``); a session over its bound is disconnected
    and its connection dropped. A packet Engine.IO or Socket.IO cannot decode closes the
    transport with a one-line warning, as the JavaScript server does on a parse error, where
    python-socketio would log a traceback and keep a half-dead session.
    """

    def __init__(self, sio: socketio.AsyncServer, settings: Settings) -> None:
        self.sio = sio
        self.connect_timeout = settings.connect_timeout_ms / 1000
        self.limits = SendBufferLimits(settings.socket_buffer_max_bytes, settings.socket_buffer_max_packets)
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        on_connect = sio.eio.handlers["connect"]
        on_disconnect = sio.eio.handlers["disconnect"]
        on_message = sio.eio.handlers["message"]

        async def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
            result = await on_connect(eio_sid, environ)
            if result is None or result is True:
                self._timers[eio_sid] = asyncio.get_running_loop().call_later(
                    self.connect_timeout, self._expire, eio_sid
                )
                self._harden(eio_sid, environ)
            return result

        async def disconnect(eio_sid: str, reason: Any = None) -> Any:
            timer = self._timers.pop(eio_sid, None)
            if timer is not None:
                timer.cancel()
            socket = sio.eio.sockets.get(eio_sid)
            if socket is not None and isinstance(socket.queue, SendBuffer):
                socket.queue.retire()
            return await on_disconnect(eio_sid, reason)

        async def message(eio_sid: str, data: Any) -> Any:
            try:
                return await on_message(eio_sid, data)
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                self._malformed(exc)
                await close_transport(sio, eio_sid)
                return None

        sio.eio.on("connect", connect)
        sio.eio.on("disconnect", disconnect)
        sio.eio.on("message", message)

    def _harden(self, eio_sid: str, environ: dict[str, Any]) -> None:
        socket = self.sio.eio.sockets.get(eio_sid)
        if socket is None:
            return
        buffer = SendBuffer(self.limits, lambda: self._spawn(self._evict(eio_sid)))
        buffer.adopt(socket.queue)
        if "transport=websocket" in environ.get("QUERY_STRING", ""):
            buffer.abort_transport = _aborter(environ.get("asgi.send"))
        socket.queue = buffer
        handle_post = socket.handle_post_request

        async def handle_post_request(post_environ: dict[str, Any]) -> Any:
            try:
                return await handle_post(post_environ)
            except engineio_exceptions.EngineIOError:
                # python-engineio answers 400 and disconnects the session, waiting for the CLOSE
                # packet to be polled: closed here first, that wait cannot hang the request.
                await close_transport(self.sio, eio_sid, forget=False)
                raise
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                self._malformed(exc)
                await close_transport(self.sio, eio_sid, forget=False)
                # python-engineio answers 400 to this and forgets the session.
                raise engineio_exceptions.UnknownPacketError() from None

        socket.handle_post_request = handle_post_request

    @staticmethod
    def _malformed(exc: BaseException) -> None:
        MALFORMED_TRANSPORTS_CLOSED.inc()
        log.warning("closing a transport that sent a malformed packet (%s)", type(exc).__name__)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _evict(self, eio_sid: str) -> None:
        socket = self.sio.eio.sockets.get(eio_sid)
        if socket is None or not isinstance(socket.queue, SendBuffer):
            return
        buffer = socket.queue
        SLOW_SOCKETS_DISCONNECTED.inc()
        log.warning(
            "disconnecting a socket that does not read: its outgoing buffer is over its bound "
            "(%d bytes, %d packets)",
            self.limits.max_bytes,
            self.limits.max_packets,
        )
        buffer.discard()
        if buffer.abort_transport is not None:
            buffer.abort_transport()
        await close_transport(self.sio, eio_sid)

    def _expire(self, eio_sid: str) -> None:
        self._timers.pop(eio_sid, None)
        if self._in_a_namespace(eio_sid) or eio_sid not in self.sio.eio.sockets:
            return
        CONNECT_TIMEOUTS.inc()
        log.info("closing a transport that joined no namespace in time")
        self._spawn(close_transport(self.sio, eio_sid))

    def _in_a_namespace(self, eio_sid: str) -> bool:
        manager = self.sio.manager
        for namespace in list(manager.get_namespaces()):
            sid = manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is not None and manager.is_connected(sid, namespace):
                return True
        return False


def _engineio_text(text: str) -> bool:
    """Whether python-engineio can decode this websocket text frame as a packet."""
    if not text:
        return False
    if text[0] in "0123456":
        return True
    if text[0] == "b":
        try:
            base64.b64decode(text[1:], validate=True)
        except (binascii.Error, ValueError):
            return False
        return True
    return False


class WebsocketFrames:
    """ASGI middleware in front of Engine.IO's websockets.

    python-engineio decodes a websocket frame before any hook of ours runs, and a frame it cannot
    decode (empty, an unknown packet type, bad base64) escapes its read loop as an exception:
    a traceback, and a writer left running. Such a frame closes the websocket here instead. It
    also tells an upgraded session how to drop its new connection (see ``_aborter``).
    """

    def __init__(self, app: ASGIApp, sio: socketio.AsyncServer) -> None:
        self.app = app
        self.sio = sio

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine: Engine.IO's is returned as is, so this layer keeps only the small
        # ``checked_receive`` closure alive for as long as a websocket lasts, not a frame.
        if scope["type"] != "websocket":
            return self.app(scope, receive, send)
        query = parse_qs(bytes(scope.get("query_string") or b"").decode("latin-1"))
        upgraded_sid = query.get("sid", [""])[0] or None
        if upgraded_sid is not None:
            socket = self.sio.eio.sockets.get(upgraded_sid)
            if socket is not None and isinstance(socket.queue, SendBuffer):
                socket.queue.abort_transport = _aborter(send)
        closed = False

        async def checked_receive() -> Message:
            nonlocal closed
            if closed:
                return {"type": "websocket.disconnect", "code": 1002}
            message = await receive()
            text = message.get("text") if message["type"] == "websocket.receive" else None
            if text is not None and not _engineio_text(text):
                closed = True
                MALFORMED_TRANSPORTS_CLOSED.inc()
                log.warning("closing a websocket that sent a frame Engine.IO cannot decode")
                with contextlib.suppress(Exception):
                    await send({"type": "websocket.close", "code": 1002})
                return {"type": "websocket.disconnect", "code": 1002}
            return message

        return self.app(scope, checked_receive, send)


def end_polls_on_close(sio: socketio.AsyncServer) -> None:
    """When a long-polling client closes, answer its pending poll at once.

    python-engineio closes the session on the client's CLOSE packet without queueing anything, so
    the client's last GET stays open until the ping interval and timeout run out (45 s by
    default): the client lingers and the server cannot shut down cleanly meanwhile. A NOOP ends
    that poll as the JavaScript server does.
    """
    on_disconnect = sio.eio.handlers["disconnect"]

    async def disconnect(eio_sid: str, reason: Any = None) -> Any:
        socket = sio.eio.sockets.get(eio_sid)
        if socket is not None and not socket.upgraded:
            socket.queue.put_nowait(engineio_packet.Packet(engineio_packet.NOOP))
        return await on_disconnect(eio_sid, reason)

    sio.eio.on("disconnect", disconnect)
