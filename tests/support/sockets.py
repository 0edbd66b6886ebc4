"""Real Socket.IO clients for hub tests.

Every client records every event it receives, in order. A test waits for the event it expects
(``next``, bounded by a timeout, never a fixed sleep) and at the end checks with ``quiet`` that
nobody received anything it did not consume: that is how "only these sockets got it" is asserted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import TracebackType
from typing import Any

import socketio

from tests.support.hub_rooms import create_room
from tests.support.users import User

PLAIN = "/hub/chat"
PREFIXED = "/messaging-api/hub/chat"
TIMEOUT = 5.0
# Long enough for a broadcast already on its way over loopback to land.
QUIET_WINDOW = 0.2

Predicate = Callable[[Any], bool]


class HubClient:
    def __init__(self, user: User | None, namespace: str) -> None:
        self.user = user
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._consumed: set[int] = set()
        self._arrived = asyncio.Event()
        self.sio.on("*", self._record, namespace=namespace)

    async def _record(self, event: str, *args: Any) -> None:
        self.events.append((event, args[0] if args else None))
        self._arrived.set()

    @property
    def sid(self) -> str | None:
        return self.sio.get_sid(self.namespace)

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def _take(self, event: str, where: Predicate | None) -> tuple[bool, Any]:
        for index, (name, payload) in enumerate(self.events):
            if index in self._consumed or name != event:
                continue
            if where is None or where(payload):
                self._consumed.add(index)
                return True, payload
        return False, None

    async def next(self, event: str, where: Predicate | None = None, within: float = TIMEOUT) -> Any:
        """The first not yet consumed ``event`` (matching ``where``), waiting for it if needed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            found, payload = self._take(event, where)
            if found:
                return payload
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"no {event} within {within}s; received {self.names()}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    async def error(self, code: str, within: float = TIMEOUT) -> dict[str, Any]:
        """The next ``hub:error``, which must carry ``code``."""
        payload: dict[str, Any] = await self.next("hub:error", within=within)
        assert payload["code"] == code, payload
        assert isinstance(payload["error"], str) and payload["error"].strip(), payload
        return payload

    def pending(self, *names: str) -> list[tuple[str, Any]]:
        """Events received but not consumed (only those named, when names are given)."""
        return [
            (name, payload)
            for index, (name, payload) in enumerate(self.events)
            if index not in self._consumed and (not names or name in names)
        ]

    async def emit(self, event: str, data: Any = None) -> None:
        await self.sio.emit(event, data, namespace=self.namespace)

    async def call(self, event: str, data: Any = None, within: float = TIMEOUT) -> Any:
        """Emit with an ack callback and return what the server acked."""
        return await self.sio.call(event, data, namespace=self.namespace, timeout=within)

    async def join(self, room_id: str, **extra: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """``hub:join`` and the ``hub:joined`` + ``hub:history`` that answer it, in that order."""
        await self.emit("hub:join", {"roomId": room_id, **extra})
        joined = await self.next("hub:joined", lambda p: p.get("roomId") == room_id)
        history = await self.next("hub:history", lambda p: p.get("roomId") == room_id)
        return joined, history

    async def send(self, room_id: str, body: str, **extra: Any) -> dict[str, Any]:
        """A text message with an ack; returns the ack."""
        payload = {"roomId": room_id, "messageType": "text", "content": {"body": body}, **extra}
        ack: dict[str, Any] = await self.call("hub:send", payload)
        return ack

    async def disconnect(self) -> None:
        if self.sio.connected:
            await self.sio.disconnect()
        # A socket the server disconnected (or a refused handshake) leaves the client's HTTP
        # session open; closed here, or it is reported unclosed when collected, in a later test.
        http = self.sio.eio.http
        if http is not None and not http.closed:
            await http.close()


class Sockets:
    """Opens hub clients against a live server and closes them all at the end of a test."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.clients: list[HubClient] = []

    async def __aenter__(self) -> Sockets:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for client in self.clients:
            await client.disconnect()

    def _client(self, user: User | None, prefixed: bool) -> tuple[HubClient, str]:
        client = HubClient(user, PREFIXED if prefixed else PLAIN)
        path = "messaging-api/socket.io" if prefixed else "socket.io"
        self.clients.append(client)
        return client, path

    async def joined_pair(
        self, app: Any, first: User, second: User, *, kind: str = "studentTutor", **connect: Any
    ) -> tuple[str, HubClient, HubClient]:
        """A ``kind`` room of the two that both have joined (``connect`` options apply to the first
        socket), with the first socket's news of the second's arrival already consumed."""
        room = await create_room(app, first, second, kind=kind)
        first_socket = await self.connect(first, **connect)
        second_socket = await self.connect(second)
        await first_socket.join(room)
        await second_socket.join(room)
        await first_socket.next("hub:presence")
        await first_socket.next("hub:online")
        return room, first_socket, second_socket

    async def connect(self, user: User, *, prefixed: bool = False, transport: str = "websocket") -> HubClient:
        client, path = self._client(user, prefixed)
        await client.sio.connect(
            self.server_url,
            namespaces=[client.namespace],
            auth={"token": user.token},
            socketio_path=path,
            transports=[transport],
            wait_timeout=TIMEOUT,
        )
        return client

    async def refusal(
        self, *, auth: Any = None, namespace: str = PLAIN, headers: dict[str, str] | None = None
    ) -> str:
        """Connect and expect a refusal; returns the refusal's message (``connect_error``'s
        ``err.message`` in the JavaScript client)."""
        client = HubClient(None, namespace)
        self.clients.append(client)
        refusals: list[Any] = []
        client.sio.on("connect_error", refusals.append, namespace=namespace)
        try:
            await client.sio.connect(
                self.server_url,
                namespaces=[namespace],
                auth=auth,
                headers=headers or {},
                transports=["websocket"],
                wait_timeout=TIMEOUT,
            )
        except socketio.exceptions.ConnectionError:
            assert len(refusals) == 1, refusals
            refusal = refusals[0]
            return str(refusal["message"] if isinstance(refusal, dict) else refusal)
        raise AssertionError(f"the handshake to {namespace} was accepted")

    async def connect_with(
        self,
        *,
        auth: Any = None,
        headers: dict[str, str] | None = None,
        namespace: str = PLAIN,
        query: str = "",
    ) -> HubClient:
        """Connect with a hand-made handshake (token elsewhere than ``auth.token``)."""
        client = HubClient(None, namespace)
        self.clients.append(client)
        await client.sio.connect(
            self.server_url + query,
            namespaces=[namespace],
            auth=auth,
            headers=headers or {},
            transports=["websocket"],
            wait_timeout=TIMEOUT,
        )
        return client

    async def quiet(self, window: float = QUIET_WINDOW) -> None:
        """Nothing more arrives anywhere: every socket has consumed all it received."""
        await asyncio.sleep(window)
        for client in self.clients:
            who = client.user.fullname if client.user else "anonymous"
            assert client.pending() == [], f"{who} received unexpected events: {client.pending()}"
