"""What the message REST routes push to the room's sockets (real Socket.IO clients, real server)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import socketio

from tests.support.chat_rooms import create_room, store_text
from tests.support.users import User

TIMEOUT = 5.0
# Long enough for a broadcast already on its way over loopback to land.
QUIET_WINDOW = 0.3


class RoomSocket:
    """A hub client that records every event it receives."""

    def __init__(self, user: User, namespace: str) -> None:
        self.user = user
        self.namespace = namespace
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: list[tuple[str, Any]] = []
        self._arrived = asyncio.Event()
        self.sio.on("*", self._record, namespace=namespace)

    async def _record(self, event: str, *args: Any) -> None:
        self.events.append((event, args[0] if args else None))
        self._arrived.set()

    def received(self, event: str) -> list[Any]:
        return [payload for name, payload in self.events if name == event]

    async def wait_for(self, event: str, count: int = 1) -> list[Any]:
        """The first ``count`` payloads of ``event``, waiting (bounded) for them to arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + TIMEOUT
        while len(self.received(event)) < count:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.user.fullname}: no {event} in {TIMEOUT}s; got {self.events}")
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        return self.received(event)[:count]

    async def join(self, room_id: str) -> None:
        await self.sio.emit("hub:join", {"roomId": room_id}, namespace=self.namespace)
        await self.wait_for("hub:history")
        self.events.clear()


class Hub:
    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.sockets: list[RoomSocket] = []

    async def joined(self, user: User, room_id: str, *, prefixed: bool = False) -> RoomSocket:
        namespace = "/messaging-api/hub/chat" if prefixed else "/hub/chat"
        socket = RoomSocket(user, namespace)
        self.sockets.append(socket)
        await socket.sio.connect(
            self.server_url,
            namespaces=[namespace],
            auth={"token": user.token},
            socketio_path="messaging-api/socket.io" if prefixed else "socket.io",
            transports=["websocket"],
            wait_timeout=TIMEOUT,
        )
        await socket.join(room_id)
        return socket

    async def settle(self) -> None:
        """Give any stray broadcast time to arrive before asserting that it did not."""
        await asyncio.sleep(QUIET_WINDOW)

    async def close(self) -> None:
        for socket in self.sockets:
            if socket.sio.connected:
                await socket.sio.disconnect()


@pytest.fixture
async def hub(server_url: str) -> AsyncIterator[Hub]:
    hub = Hub(server_url)
    yield hub
    await hub.close()


@pytest.fixture
async def room(app: Any, student: User, tutor: User) -> str:
    return await create_room(app, student, tutor)


@pytest.fixture
async def other_room(app: Any, student: User) -> str:
    return await create_room(app, student, User("tutor"))


async def test_a_rest_sent_message_reaches_every_socket_in_the_room_only(
    client: httpx.AsyncClient, hub: Hub, room: str, other_room: str, student: User, tutor: User
) -> None:
    sender_socket = await hub.joined(student, room)
    tutor_socket = await hub.joined(tutor, room, prefixed=True)
    elsewhere = await hub.joined(student, other_room)

    response = await client.post(
        f"/chat/{room}/messages", headers=student.headers, json={"data": {"body": "hi all"}}
    )
    assert response.status_code == 201
    message = response.json()["data"]

    for socket in (sender_socket, tutor_socket):
        [arrived] = await socket.wait_for("hub:messageArrived")
        assert arrived["roomId"] == room
        assert arrived["sender"] == {"id": student.id, "fullname": student.fullname, "avatar": student.avatar}
        assert arrived["message"] == message
    await hub.settle()
    assert elsewhere.events == []
    assert len(tutor_socket.received("hub:messageArrived")) == 1


async def test_a_client_message_id_retry_broadcasts_nothing_new(
    client: httpx.AsyncClient, hub: Hub, room: str, student: User, tutor: User
) -> None:
    tutor_socket = await hub.joined(tutor, room)
    body = {"data": {"body": "once"}, "clientMessageId": "retry-1"}

    assert (
        await client.post(f"/chat/{room}/messages", headers=student.headers, json=body)
    ).status_code == 201
    await tutor_socket.wait_for("hub:messageArrived")
    assert (
        await client.post(f"/chat/{room}/messages", headers=student.headers, json=body)
    ).status_code == 200
    await hub.settle()

    assert len(tutor_socket.received("hub:messageArrived")) == 1


async def test_a_refused_send_broadcasts_nothing(
    client: httpx.AsyncClient, hub: Hub, room: str, student: User, tutor: User
) -> None:
    tutor_socket = await hub.joined(tutor, room)
    response = await client.post(f"/chat/{room}/messages", headers=student.headers, json={"data": {}})
    assert response.status_code == 400
    await hub.settle()
    assert tutor_socket.events == []


async def test_an_edit_pushes_message_updated_to_the_room(
    app: Any, client: httpx.AsyncClient, hub: Hub, room: str, other_room: str, student: User, tutor: User
) -> None:
    message = await store_text(app, room, student, "typo")
    tutor_socket = await hub.joined(tutor, room)
    elsewhere = await hub.joined(student, other_room)

    response = await client.patch(
        f"/v1/v1/chat-messages/{message['id']}", headers=student.headers, json={"content": {"body": "fixed"}}
    )
    assert response.status_code == 200

    [updated] = await tutor_socket.wait_for("hub:messageUpdated")
    assert updated == {"roomId": room, "message": response.json()["chatMessage"]}
    assert updated["message"]["content"] == {"body": "fixed"}
    await hub.settle()
    assert elsewhere.events == []


async def test_a_refused_edit_pushes_nothing(
    app: Any, client: httpx.AsyncClient, hub: Hub, room: str, student: User, tutor: User
) -> None:
    message = await store_text(app, room, student, "mine")
    student_socket = await hub.joined(student, room)
    response = await client.patch(
        f"/v1/v1/chat-messages/{message['id']}", headers=tutor.headers, json={"content": {"body": "yours"}}
    )
    assert response.status_code == 403
    await hub.settle()
    assert student_socket.events == []


@pytest.mark.parametrize("route", ["v1", "chat"])
async def test_a_delete_pushes_message_deleted_to_the_room(
    app: Any, client: httpx.AsyncClient, hub: Hub, room: str, student: User, tutor: User, route: str
) -> None:
    message = await store_text(app, room, student, "oops")
    student_socket = await hub.joined(student, room)
    tutor_socket = await hub.joined(tutor, room, prefixed=True)

    url = (
        f"/v1/v1/chat-messages/{message['id']}" if route == "v1" else f"/chat/{room}/messages/{message['id']}"
    )
    assert (await client.delete(url, headers=student.headers)).status_code == 200

    for socket in (student_socket, tutor_socket):
        [deleted] = await socket.wait_for("hub:messageDeleted")
        assert deleted == {"roomId": room, "messageId": message["id"]}


@pytest.mark.parametrize("settings_overrides", [{"message_rate_per_minute": 2}])
async def test_socket_and_rest_sends_share_one_rate_limit(
    client: httpx.AsyncClient, hub: Hub, room: str, student: User
) -> None:
    socket = await hub.joined(student, room)
    for body in ("one", "two"):
        ack = await socket.sio.call(
            "hub:send",
            {"roomId": room, "messageType": "text", "content": {"body": body}},
            namespace=socket.namespace,
            timeout=TIMEOUT,
        )
        assert ack["success"] is True, ack

    response = await client.post(
        f"/chat/{room}/messages", headers=student.headers, json={"data": {"body": "three"}}
    )

    assert response.status_code == 429
    assert response.json()["code"] == "RATE_LIMITED"
