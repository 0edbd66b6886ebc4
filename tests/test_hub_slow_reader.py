"""A socket that stops reading is disconnected once its outgoing buffer reaches its bound, and the
process never holds more than that bound for it, however much the room sends."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.support.hub_rooms import create_room
from tests.support.sockets import Sockets
from tests.support.users import User
from tutorhub_messaging.hub.send_buffer import TOTALS, SendBuffer

BOUND = 512 * 1024
EVENT_BYTES = 60_000
# Enough to fill every kernel buffer between the two ends (a few MB on loopback) and the bound.
MAX_EVENTS = 600

# The relay must outrun every buffer on the way, so the budgets for custom events (where the
# service has them) must not be what stops it.
UNLIMITED = 10**9
pytestmark = pytest.mark.parametrize(
    "settings_overrides",
    [
        {
            "socket_buffer_max_bytes": BOUND,
            "socket_buffer_max_packets": 10_000,
            "hub_custom_events_per_user": UNLIMITED,
            "hub_custom_events_per_socket": UNLIMITED,
            "hub_custom_event_bytes_per_user": UNLIMITED,
            "hub_custom_event_bytes_per_socket": UNLIMITED,
        }
    ],
)


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def _joined_reader(server_url: str, user: User, room: str) -> tuple[ClientConnection, str]:
    """A websocket client that joins ``room`` and then never reads again (its receive buffer is
    tiny, so the server's writes back up at once). Returns it and its Engine.IO session id."""
    host, port = server_url.removeprefix("http://").split(":")
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((host, int(port)))
    raw.setblocking(False)
    ws = await connect(
        f"ws://{host}:{port}/socket.io/?EIO=4&transport=websocket",
        sock=raw,
        max_queue=1,
        ping_interval=None,
        compression=None,
    )
    opening = str(await ws.recv())
    eio_sid = json.loads(opening[1:])["sid"]
    await ws.send("40/hub/chat," + json.dumps({"token": user.token}))
    await ws.send("42/hub/chat," + json.dumps(["hub:join", {"roomId": room}]))
    while '"hub:history"' not in str(await ws.recv()):
        pass
    return ws, eio_sid


async def test_a_socket_that_stops_reading_is_disconnected_within_its_bound(
    app: Any, hub: Sockets, server_url: str, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    sender = await hub.connect(tutor)
    await sender.join(room)
    reader, eio_sid = await _joined_reader(server_url, student, room)
    await sender.next("hub:presence", lambda p: p["event"] == "joined")
    await sender.next("hub:online")
    outbox = app.sio.eio.sockets[eio_sid].queue
    assert isinstance(outbox, SendBuffer)
    before = metric(await _metrics(server_url), "messaging_hub_slow_sockets_disconnected_total")

    most_held = most_in_process = 0
    for index in range(MAX_EVENTS):
        ack = await sender.call(
            "hub:event",
            {"roomId": room, "event": "whiteboard", "data": {"n": index, "ink": "x" * EVENT_BYTES}},
        )
        assert ack == {"success": True}
        most_held = max(most_held, outbox.bytes)
        most_in_process = max(most_in_process, TOTALS.queued_bytes)
        if eio_sid not in app.sio.eio.sockets:
            break
    else:
        raise AssertionError(f"the reader was never disconnected (holding {outbox.bytes} bytes)")

    assert most_held <= BOUND
    assert most_in_process <= BOUND + 2 * EVENT_BYTES  # the reader's bound and the sender's acks
    # The room sees the reader leave, and carries on.
    left = await sender.next("hub:presence", lambda p: p["event"] == "left")
    assert left["user"]["id"] == student.id
    await sender.next("hub:offline")
    assert await sender.call("hub:event", {"roomId": room, "event": "whiteboard", "data": {}}) == {
        "success": True
    }
    after = metric(await _metrics(server_url), "messaging_hub_slow_sockets_disconnected_total")
    assert after == before + 1
    reader.transport.abort()


async def _metrics(server_url: str) -> str:
    import httpx

    async with httpx.AsyncClient() as http:
        return (await http.get(server_url + "/metrics")).text
