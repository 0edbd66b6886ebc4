"""Garbage in, a clear hub:error out: every client event with every kind of bad payload, unknown
events and raw protocol garbage. The socket (and the server) keep working afterwards."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from socketio.packet import Packet

from tests.support.hub_rooms import create_room
from tests.support.sockets import HubClient, Sockets
from tests.support.users import User
from tutorhub_messaging.hub.transport import HubPacket

CLIENT_EVENTS = [
    "hub:join",
    "hub:leave",
    "hub:send",
    "hub:event",
    "hub:block",
    "hub:unblock",
    "hub:silence",
    "hub:unsilence",
]
HUGE = "h" * 500_000


async def _still_works(app: Any, socket: HubClient, student: User, tutor: User) -> None:
    room = await create_room(app, student, tutor)
    joined, _ = await socket.join(room)
    assert joined["roomId"] == room


NOT_OBJECTS = ["a string", 42, 4.2, True, None, [], ["roomId"], HUGE]
BAD_ROOM_IDS = [
    None,
    "",
    "room-abc-123",
    123,
    {"id": "x"},
    ["a"],
    "6f1c2a7e-0000-4000-8000-00000000000g",
    HUGE,
]


@pytest.mark.parametrize("event", CLIENT_EVENTS)
async def test_a_payload_that_is_not_an_object_is_invalid(
    app: Any, hub: Sockets, student: User, tutor: User, event: str
) -> None:
    socket = await hub.connect(student)

    for payload in NOT_OBJECTS:
        ack = await socket.call(event, payload)

        assert ack["success"] is False, payload
        assert ack["code"] == "INVALID_PAYLOAD", payload
        error = await socket.error("INVALID_PAYLOAD")
        assert "roomId" not in error
        assert len(error["error"]) < 200
    await _still_works(app, socket, student, tutor)
    await hub.quiet()


@pytest.mark.parametrize("event", CLIENT_EVENTS)
async def test_an_event_without_a_payload_is_invalid(hub: Sockets, student: User, event: str) -> None:
    socket = await hub.connect(student)

    await socket.sio.emit(event, namespace=socket.namespace)

    await socket.error("INVALID_PAYLOAD")
    await hub.quiet()


@pytest.mark.parametrize("event", CLIENT_EVENTS)
async def test_a_bad_room_id_is_invalid_and_never_echoed(hub: Sockets, student: User, event: str) -> None:
    socket = await hub.connect(student)

    for room_id in BAD_ROOM_IDS:
        payload: dict[str, Any] = {
            "messageType": "text",
            "content": {"body": "x"},
            "event": "typing",
            "userId": "0c9d1f3a-0000-4000-8000-000000000001",
        }
        if room_id is not None:
            payload["roomId"] = room_id
        await socket.emit(event, payload)

        error = await socket.error("INVALID_PAYLOAD")
        assert "roomId" not in error
        assert HUGE not in error["error"]
    await hub.quiet()


@pytest.mark.parametrize(
    "event", ["hub:unknown", "message", "hub:JOIN", "hub:joined", "hub:messageArrived", "x" * 5000]
)
async def test_an_unknown_event_is_invalid(
    app: Any, hub: Sockets, student: User, tutor: User, event: str
) -> None:
    socket = await hub.connect(student)

    ack = await socket.call(event, {"roomId": "6f1c2a7e-0000-4000-8000-000000000abc"})

    assert ack["code"] == "INVALID_PAYLOAD"
    error = await socket.error("INVALID_PAYLOAD")
    assert len(error["error"]) < 200
    await _still_works(app, socket, student, tutor)
    await hub.quiet()


@pytest.mark.parametrize("meta", ["device", 1, ["a"], True])
async def test_join_meta_that_is_not_an_object_is_invalid(
    app: Any, hub: Sockets, student: User, tutor: User, meta: Any
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(student)

    await socket.emit("hub:join", {"roomId": room, "meta": meta})

    await socket.error("INVALID_PAYLOAD")
    await hub.quiet()


async def test_join_meta_over_its_limit_is_too_large(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(student)

    await socket.emit("hub:join", {"roomId": room, "meta": {"notes": "n" * 5000}})

    await socket.error("MESSAGE_TOO_LARGE")
    await hub.quiet()


async def test_extra_arguments_are_ignored(app: Any, hub: Sockets, student: User, tutor: User) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(student)

    await socket.sio.emit("hub:join", ({"roomId": room}, "extra", 3), namespace=socket.namespace)

    await socket.next("hub:joined")
    await socket.next("hub:history")
    await hub.quiet()


async def test_unknown_fields_are_ignored(app: Any, hub: Sockets, student: User, tutor: User) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(student)
    await socket.join(room, surprise={"nested": [1, 2, 3]})

    ack = await socket.send(room, "hi", priority="urgent", senderId="forged")

    assert ack["success"] is True
    assert ack["message"]["senderId"] == student.id
    await socket.next("hub:messageArrived")
    await hub.quiet()


@pytest.mark.parametrize(
    "frame",
    [
        "42/hub/chat,not json",
        "42/hub/chat,[]",
        '42/hub/chat,["hub:join"',
        "4",
        "49garbage",
        '42/hub/chat,[1,{"a":1}]',
        "",
    ],
)
async def test_raw_protocol_garbage_does_not_harm_the_server(
    app: Any, hub: Sockets, server_url: str, student: User, tutor: User, frame: str
) -> None:
    url = server_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await ws.receive(timeout=5)  # Engine.IO open
        await ws.send_str(f'40/hub/chat,{{"token":"{student.token}"}}')
        connected = await ws.receive(timeout=5)
        assert connected.data.startswith("40/hub/chat,")
        await ws.send_str(frame)
        await ws.send_str("3")  # a pong: the transport is read on

    socket = await hub.connect(student)
    await _still_works(app, socket, student, tutor)
    await hub.quiet()


@pytest.mark.parametrize(
    "payload",
    [
        None,
        ["hub:messageArrived", {"roomId": "r", "message": {"content": {"body": "hi"}, "n": [1, 2.5, None]}}],
        ["event", {"deep": [{"x": [b"bytes inside"]}]}],
        ["event", bytearray(b"raw")],
        ["event", {"big": 10**30, "tuple": (1, b"x")}],  # orjson refuses these: the library decides
        ["event", {"big": 10**30, "fine": "no bytes"}],
        {1: "non-string key", "b": b"x"},
    ],
)
def test_hub_packets_detect_binary_attachments_exactly_like_the_library(payload: Any) -> None:
    assert HubPacket.data_is_binary(payload) == Packet.data_is_binary(payload)
