"""The Socket.IO server object, the room notifier built on it, and the connect timeout."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from typing import Any

import orjson
import socketio
from engineio import packet as engineio_packet

from tutorhub_messaging.messages.service import MESSAGE_ARRIVED
from tutorhub_messaging.ops.metrics import MESSAGES_OUT
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

    Rooms are per namespace in Socket.IO, and clients reach the chat hub as ``/hub/chat`` or
    ``/messaging-api/hub/chat`` (or another prefix ending in ``/hub/chat``), so a room's sockets
    may be spread over several namespaces. The fixed namespaces are always addressed; any other
    only while sockets are connected to it, so made-up prefixes cannot grow the list.
    """

    def __init__(self, sio: socketio.AsyncServer, fixed_namespaces: Iterable[str]) -> None:
        self.sio = sio
        self._fixed = frozenset(fixed_namespaces)
        self._extra: Counter[str] = Counter()

    @property
    def namespaces(self) -> tuple[str, ...]:
        return (*self._fixed, *self._extra)

    def add_namespace(self, namespace: str) -> None:
        if namespace not in self._fixed:
            self._extra[namespace] += 1

    def release_namespace(self, namespace: str) -> None:
        if namespace in self._extra:
            self._extra[namespace] -= 1
            if self._extra[namespace] <= 0:
                del self._extra[namespace]

    async def emit_to_room(
        self, room_id: str, event: str, payload: dict[str, Any], *, skip_sid: str | None = None
    ) -> None:
        for namespace in self.namespaces:
            if event == MESSAGE_ARRIVED:
                MESSAGES_OUT.inc(self._recipients(namespace, room_id, skip_sid))
            await self.sio.emit(event, payload, to=room_id, namespace=namespace, skip_sid=skip_sid)

    def _recipients(self, namespace: str, room_id: str, skip_sid: str | None) -> int:
        return sum(1 for sid, _ in self.sio.manager.get_participants(namespace, room_id) if sid != skip_sid)


class ConnectTimeout:
    """Closes a transport that has not connected to any namespace within ``seconds``.

    python-socketio has no such option (the JavaScript server's ``connectTimeout``), so the
    Engine.IO connect and disconnect handlers are wrapped: a timer is armed when a transport
    opens and cancelled when it closes. This frees transports whose handshake was refused (or
    never attempted) instead of keeping them open on pings alone.
    """

    def __init__(self, sio: socketio.AsyncServer, seconds: float) -> None:
        self.sio = sio
        self.seconds = seconds
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task[None]] = set()
        on_connect = sio.eio.handlers["connect"]
        on_disconnect = sio.eio.handlers["disconnect"]

        async def connect(eio_sid: str, environ: dict[str, Any]) -> Any:
            result = await on_connect(eio_sid, environ)
            if result is None or result is True:
                self._timers[eio_sid] = asyncio.get_running_loop().call_later(
                    self.seconds, self._expire, eio_sid
                )
            return result

        async def disconnect(eio_sid: str, reason: Any = None) -> Any:
            timer = self._timers.pop(eio_sid, None)
            if timer is not None:
                timer.cancel()
            return await on_disconnect(eio_sid, reason)

        sio.eio.on("connect", connect)
        sio.eio.on("disconnect", disconnect)

    def _expire(self, eio_sid: str) -> None:
        self._timers.pop(eio_sid, None)
        if self._in_a_namespace(eio_sid):
            return
        log.info("closing a transport that joined no namespace in time")
        task = asyncio.ensure_future(self.sio.eio.disconnect(eio_sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _in_a_namespace(self, eio_sid: str) -> bool:
        manager = self.sio.manager
        for namespace in list(manager.get_namespaces()):
            sid = manager.sid_from_eio_sid(eio_sid, namespace)
            if sid is not None and manager.is_connected(sid, namespace):
                return True
        return False


def close_on_malformed_packets(sio: socketio.AsyncServer) -> None:
    """A transport that sends a packet Socket.IO cannot decode is closed with a one-line warning.

    That is what the JavaScript server does on a parse error; python-socketio would log a
    traceback per bad packet and keep the transport. Decoding happens here, before any hub
    handler runs (those run as their own tasks and render their own errors).
    """
    on_message = sio.eio.handlers["message"]

    async def message(eio_sid: str, data: Any) -> Any:
        try:
            return await on_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            log.warning("closing a transport that sent a malformed packet (%s)", type(exc).__name__)
            await sio.eio.disconnect(eio_sid)
            return None

    sio.eio.on("message", message)


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
