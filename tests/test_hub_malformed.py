"""Packets and payloads no official client sends: each gets a clear answer (INVALID_PAYLOAD with
the session still usable, or the transport closed at once), never INTERNAL, a traceback, a task
failing unseen, or a websocket that looks alive after its session is gone."""

from __future__ import annotations

import gc
import json
import logging
from typing import Any

import pytest

from tests.support.engineio import PollingSession, RawWebsocket
from tests.support.hub_rooms import create_room
from tests.support.sockets import Sockets
from tests.support.users import User

CLOSED_WITHIN = 5.0


def nested(depth: int) -> Any:
    value: Any = {"leaf": True}
    for _ in range(depth):
        value = {"n": value}
    return value


@pytest.fixture(autouse=True)
def no_tracebacks(caplog: pytest.LogCaptureFixture) -> Any:
    """Whatever the test sends, the server logs no error and no traceback."""
    caplog.set_level(logging.WARNING)
    yield
    gc.collect()  # a task failing unseen is reported when it is collected
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


@pytest.mark.parametrize(
    "packet",
    [
        '42/hub/chat,["hub:send",{"roomId":"\\ud800"}]',  # a lone surrogate
        "42/hub/chat," + "[" * 1100 + "]" * 1100,  # deeper than the JSON decoder allows
        '42/hub/chat,[["hub:send"],{}]',  # a list as the event name
        '42/hub/chat,[{"event":"hub:send"}]',  # an object as the event name
        '42/hub/chat,{"roomId":"x"}',  # not a list at all
        '42/hub/chat,["hub:send",{}',  # cut short
        "",  # an empty Engine.IO packet
        "x",  # an unknown Engine.IO packet type
        "b%%%not-base64",  # a base64 packet that is not base64
    ],
    ids=[
        "lone-surrogate",
        "too-deep",
        "list-name",
        "object-name",
        "not-a-list",
        "truncated",
        "empty",
        "unknown-type",
        "bad-base64",
    ],
)
async def test_an_undecodable_websocket_packet_closes_the_websocket_at_once(
    server_url: str, student: User, packet: str
) -> None:
    async with RawWebsocket(server_url) as ws:
        assert (await ws.connect_namespace("/hub/chat", student.token)).startswith("40/hub/chat,")

        await ws.send(packet)

        assert await ws.closed_within(CLOSED_WITHIN)


async def test_a_binary_attachment_closes_the_websocket(server_url: str, student: User) -> None:
    async with RawWebsocket(server_url) as ws:
        await ws.connect_namespace("/hub/chat", student.token)

        await ws.send('451-/hub/chat,["hub:send",{"roomId":"r","content":{"_placeholder":true,"num":0}}]')
        await ws.send(b"\x00" * 1000)

        assert await ws.closed_within(CLOSED_WITHIN)


@pytest.mark.parametrize("settings_overrides", [{"connect_timeout_ms": 200}])
async def test_a_transport_that_never_joins_a_namespace_is_closed_at_the_connect_timeout(
    server_url: str,
) -> None:
    async with RawWebsocket(server_url) as ws:
        assert await ws.closed_within(CLOSED_WITHIN)


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("hub:join", lambda room: {"roomId": room, "meta": nested(300)}),
        ("hub:event", lambda room: {"roomId": room, "event": "whiteboard", "data": nested(300)}),
        ("hub:send", lambda room: {"roomId": room, "messageType": "text", "content": nested(300)}),
    ],
    ids=["join-meta", "event-data", "send-content"],
)
async def test_a_payload_nested_too_deep_is_invalid_and_the_socket_stays_usable(
    app: Any, hub: Sockets, student: User, tutor: User, event: str, payload: Any
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(student)
    if event != "hub:join":
        await socket.join(room)

    ack = await socket.call(event, payload(room))

    assert ack["success"] is False and ack["code"] == "INVALID_PAYLOAD", ack
    await socket.error("INVALID_PAYLOAD")
    if event == "hub:join":
        await socket.join(room)
    assert (await socket.send(room, "still here"))["success"] is True


async def test_a_polling_post_with_too_many_packets_is_refused_and_the_session_closed(
    server_url: str, student: User
) -> None:
    async with PollingSession(server_url) as session:
        await session.open()
        await session.post("40/hub/chat," + json.dumps({"token": student.token}))
        await session.until("40/hub/chat,")

        response = await session.post(*["3"] * 17)

        assert response.status_code == 400
        assert await session.poll() == ["HTTP 400"]  # the session is gone


@pytest.mark.parametrize(
    "packets",
    [("3", "x"), ("3", ""), ("3", "bA"), ("2",)],
    ids=["unknown-type", "empty", "bad-base64", "client-ping"],
)
async def test_a_malformed_polling_post_is_refused_and_the_session_closed(
    server_url: str, packets: tuple[str, ...]
) -> None:
    async with PollingSession(server_url) as session:
        await session.open()

        response = await session.post(*packets)

        assert response.status_code == 400
        assert await session.poll() == ["HTTP 400"]
