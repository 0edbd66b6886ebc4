"""A joining socket misses no broadcast of a stored message: what the room is sent before the
socket is in it is kept for it (and only that), in one process and through Redis alike."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.support.hub_rooms import create_room
from tests.support.sockets import HubClient, Sockets
from tests.support.users import User
from tutorhub_messaging.messages.service import MESSAGE_ARRIVED

REDIS_URL = "redis://127.0.0.1:6379/0"
IN_MEMORY: dict[str, Any] = {}
THROUGH_REDIS: dict[str, Any] = {"redis_url": REDIS_URL, "redis_prefix": f"test:arrivals:{uuid.uuid4().hex}:"}


BOTH_STATES = pytest.mark.parametrize(
    "settings_overrides", [IN_MEMORY, THROUGH_REDIS], indirect=True, ids=["memory", "redis"]
)


async def tutor_connected(
    app: Any, hub: Sockets, student: User, tutor: User
) -> tuple[str, HubClient, Any, Any]:
    """A room of the pair, the tutor's socket (not in the room), the hub runtime and the socket's
    connection there."""
    room = await create_room(app, student, tutor)
    socket = await hub.connect(tutor)
    runtime = app.context.hub_control.hub
    return room, socket, runtime, runtime.connections[socket.sid]


def arrival(room: str, message_id: str) -> dict[str, Any]:
    return {"roomId": room, "message": {"id": message_id}}


@BOTH_STATES
async def test_a_broadcast_before_the_socket_is_in_the_room_is_kept_and_one_after_is_delivered_live(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, socket, runtime, connection = await tutor_connected(app, hub, student, tutor)

    with runtime.arrivals.watch(connection.namespace, room, connection.sid) as watch:
        await runtime.to_room(room, MESSAGE_ARRIVED, arrival(room, "before"))
        await runtime.to_room(room, "hub:presence", {"roomId": room, "event": "left"})
        for _ in range(200):  # through Redis, the broadcast comes back asynchronously
            if watch.missed:
                break
            await asyncio.sleep(0.01)
        await runtime.enter_room(connection, room)
        await runtime.to_room(room, MESSAGE_ARRIVED, arrival(room, "after"))
        live = await socket.next(MESSAGE_ARRIVED)

    assert watch.missed == [arrival(room, "before")]
    assert live == arrival(room, "after")
    await hub.quiet()


@pytest.mark.parametrize("settings_overrides", [IN_MEMORY], indirect=True)
async def test_only_the_watched_room_and_namespace_are_kept_and_a_skipped_socket_keeps_nothing(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    elsewhere = await create_room(app, student, User("tutor"))
    socket = await hub.connect(tutor)
    runtime = app.context.hub_control.hub
    connection = runtime.connections[socket.sid]

    with runtime.arrivals.watch(connection.namespace, room, connection.sid) as watch:
        await runtime.to_room(elsewhere, MESSAGE_ARRIVED, arrival(elsewhere, "other room"))
        await runtime.to_room(room, MESSAGE_ARRIVED, arrival(room, "skipped"), skip_sid=connection.sid)
        await runtime.sio.emit(MESSAGE_ARRIVED, arrival(room, "other namespace"), to=room, namespace="/x")

    assert watch.missed == []
    await runtime.to_room(room, MESSAGE_ARRIVED, arrival(room, "unwatched"))
    assert watch.missed == []
    await hub.quiet()


@BOTH_STATES
async def test_a_late_broadcast_of_a_message_the_history_held_skips_the_socket_once(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, socket, runtime, connection = await tutor_connected(app, hub, student, tutor)

    runtime.arrivals.hold(connection.namespace, room, connection.sid, ["in history"], 10.0)
    await runtime.enter_room(connection, room)
    await runtime.to_room(room, MESSAGE_ARRIVED, arrival(room, "in history"))
    await runtime.to_room(room, MESSAGE_ARRIVED, arrival(room, "new"))
    await runtime.to_room(room, MESSAGE_ARRIVED, arrival(room, "in history"))  # a second one arrives

    assert await socket.next(MESSAGE_ARRIVED) == arrival(room, "new")
    assert await socket.next(MESSAGE_ARRIVED) == arrival(room, "in history")
    await hub.quiet()


@pytest.mark.parametrize("settings_overrides", [IN_MEMORY], indirect=True)
async def test_what_a_socket_holds_lapses(app: Any, hub: Sockets, student: User, tutor: User) -> None:
    room, socket, runtime, connection = await tutor_connected(app, hub, student, tutor)

    runtime.arrivals.hold(connection.namespace, room, connection.sid, ["held briefly"], 0.05)
    await runtime.enter_room(connection, room)
    await asyncio.sleep(0.1)
    await runtime.to_room(room, MESSAGE_ARRIVED, arrival(room, "held briefly"))

    assert await socket.next(MESSAGE_ARRIVED) == arrival(room, "held briefly")
    await hub.quiet()
