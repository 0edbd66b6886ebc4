"""The hub's Socket.IO manager keeps each socket's rooms indexed: a disconnect leaves exactly the
library's room table behind, and looks at no other socket's rooms."""

from __future__ import annotations

import random
from typing import Any

import socketio

from tutorhub_messaging.hub.arrivals import WatchingManager

NAMESPACES = ("/", "/chat")


def table(manager: Any) -> dict[Any, dict[Any, dict[str, str]]]:
    return {ns: {room: dict(sids) for room, sids in rooms.items()} for ns, rooms in manager.rooms.items()}


def connect(manager: Any, sid: str, namespace: str) -> None:
    """What ``pre_connect`` does, with the sid chosen here."""
    manager.basic_enter_room(sid, namespace, None, eio_sid="eio-" + sid)
    manager.basic_enter_room(sid, namespace, sid, eio_sid="eio-" + sid)


def test_random_traffic_leaves_the_same_room_table_as_the_library() -> None:
    ours, library = WatchingManager(), socketio.AsyncManager()
    managers = (ours, library)
    chance = random.Random(20261201)
    connected: list[tuple[str, str]] = []
    rooms = [f"room-{index}" for index in range(30)]
    for step in range(3000):
        action = chance.random()
        if action < 0.2 or not connected:
            sid, namespace = f"sid-{step}", chance.choice(NAMESPACES)
            for manager in managers:
                connect(manager, sid, namespace)
            connected.append((sid, namespace))
        elif action < 0.6:
            sid, namespace = chance.choice(connected)
            room = chance.choice(rooms)
            for manager in managers:
                manager.basic_enter_room(sid, namespace, room)
        elif action < 0.75:
            sid, namespace = chance.choice(connected)
            room = chance.choice(rooms)
            for manager in managers:
                manager.basic_leave_room(sid, namespace, room)
        elif action < 0.8:
            namespace, room = chance.choice(NAMESPACES), chance.choice(rooms)
            for manager in managers:
                manager.basic_close_room(room, namespace)
        else:
            sid, namespace = connected.pop(chance.randrange(len(connected)))
            marked = chance.random() < 0.5
            for manager in managers:
                manager.callbacks[sid] = {1: print}
                if marked:
                    manager.pre_disconnect(sid, namespace)
                manager.basic_disconnect(sid, namespace)
        assert table(ours) == table(library), f"step {step}"
    assert ours.callbacks == library.callbacks
    assert ours.pending_disconnect == library.pending_disconnect
    assert ours.pending_connect == library.pending_connect


def test_a_disconnect_leaves_its_rooms_and_nobody_elses() -> None:
    manager = WatchingManager()
    for index in range(50):
        connect(manager, f"other-{index}", "/")
        manager.basic_enter_room(f"other-{index}", "/", f"room-{index}")
    connect(manager, "leaving", "/")
    for room in ("room-1", "room-2", "room-private"):
        manager.basic_enter_room("leaving", "/", room)

    manager.basic_disconnect("leaving", "/")

    assert "room-private" not in manager.rooms["/"]
    assert all("leaving" not in sids for sids in manager.rooms["/"].values())
    assert set(manager.rooms["/"]["room-1"]) == {"other-1"}
    assert len(manager.rooms["/"][None]) == 50


class NoScans(dict[Any, Any]):
    """A namespace's room table that refuses to be walked: only direct lookups are allowed."""

    def copy(self) -> Any:
        raise AssertionError("the whole room table was copied")

    def items(self) -> Any:
        raise AssertionError("every room was looked at")


def test_a_disconnect_does_not_walk_the_other_sockets_rooms() -> None:
    """The library copies the namespace's room table and looks in every room on each disconnect
    (so a process stopping with thousands of sockets spent seconds in it); ours does neither."""
    manager = WatchingManager()
    for index in range(100):
        connect(manager, f"other-{index}", "/")
        manager.basic_enter_room(f"other-{index}", "/", f"room-{index % 10}")
    connect(manager, "leaving", "/")
    manager.basic_enter_room("leaving", "/", "room-3")
    manager.rooms["/"] = NoScans(manager.rooms["/"])

    manager.basic_disconnect("leaving", "/")

    assert "leaving" not in manager.rooms["/"]["room-3"]
    assert "leaving" not in manager.rooms["/"][None]
