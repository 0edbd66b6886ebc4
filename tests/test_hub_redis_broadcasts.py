"""Room broadcasts through Redis: one pub/sub message per room event for every namespace the hub
is served under, and a burst of broadcasts written together through one connection instead of
failing for want of one."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import orjson
import pytest
from redis.asyncio import Redis

from tests.support.batches import cancel_drainer
from tests.support.hub_rooms import create_room
from tests.support.sockets import Sockets
from tests.support.users import User
from tutorhub_messaging.hub.redis_broadcasts import EVENTS_KEY, NAMESPACES_KEY

REDIS_URL = "redis://127.0.0.1:6379/0"
PREFIX = f"test:broadcasts:{uuid.uuid4().hex}:"
CHANNEL = PREFIX + "socketio"
END = "end of test"

pytestmark = pytest.mark.parametrize(
    "settings_overrides",
    [{"redis_url": REDIS_URL, "redis_prefix": PREFIX, "redis_pool_size": 3}],
    indirect=True,
)


async def published_while(action: Any) -> list[dict[str, Any]]:
    """The messages published on the hub's channel while ``action()`` ran."""
    client = Redis.from_url(REDIS_URL)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(CHANNEL)
    try:
        await action()
        await client.publish(CHANNEL, END)  # after everything the action published
        seen: list[dict[str, Any]] = []
        async for message in pubsub.listen():
            if message["data"] == END.encode():
                return seen
            seen.append(orjson.loads(message["data"]))
        raise AssertionError("the subscription ended")
    finally:
        await pubsub.aclose()
        await client.aclose()


async def test_a_room_event_is_one_redis_message_delivered_in_every_namespace(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    plain = await hub.connect(student)
    prefixed = await hub.connect(tutor, prefixed=True)
    for socket in (plain, prefixed):
        await socket.join(room)
    await plain.next("hub:presence", lambda p: p["user"]["id"] == tutor.id)
    runtime = app.context.hub_control.hub
    namespaces = list(app.context.settings.hub_namespaces)

    async def broadcast() -> None:
        await runtime.to_room(room, "hub:typing", {"roomId": room, "userId": "someone"})

    messages = await published_while(broadcast)

    assert len(namespaces) == 3
    assert [(m["event"], m[NAMESPACES_KEY]) for m in messages] == [("hub:typing", namespaces)]
    for socket in (plain, prefixed):
        assert await socket.next("hub:typing") == {"roomId": room, "userId": "someone"}


async def test_an_arrival_and_a_departure_are_one_redis_message_each(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    """A user's first socket in a room is ``hub:presence joined`` then ``hub:online`` for the
    others; their last socket going away is ``hub:presence left`` then ``hub:offline``: each pair
    one message on the channel, delivered in that order in the watcher's namespace."""
    room = await create_room(app, student, tutor)
    watcher = await hub.connect(tutor, prefixed=True)
    await watcher.join(room)
    arriving = await hub.connect(student)

    async def arrive() -> None:
        await arriving.join(room)
        await watcher.next("hub:online", lambda p: p["userId"] == student.id)

    arrival = await published_while(arrive)

    async def depart() -> None:
        await arriving.disconnect()
        await watcher.next("hub:offline", lambda p: p["userId"] == student.id)

    departure = await published_while(depart)

    assert [[event for event, _data in m[EVENTS_KEY]] for m in arrival] == [["hub:presence", "hub:online"]]
    assert [[event for event, _data in m[EVENTS_KEY]] for m in departure] == [["hub:presence", "hub:offline"]]
    about_student = [
        (name, payload.get("event"))
        for name, payload in watcher.events
        if name in ("hub:presence", "hub:online", "hub:offline")
        and student.id in (payload.get("userId"), payload.get("user", {}).get("id"))
    ]
    assert about_student == [
        ("hub:presence", "joined"),
        ("hub:online", None),
        ("hub:presence", "left"),
        ("hub:offline", None),
    ]


async def test_a_burst_of_broadcasts_is_written_together_through_one_connection(
    app: Any, hub: Sockets, student: User, tutor: User, caplog: pytest.LogCaptureFixture
) -> None:
    """Far more broadcasts at once than the manager has connections (3 here; python-socketio's own
    client has 100 and fails past them): every one is published, none fails and is retried."""
    room = await create_room(app, student, tutor)
    await hub.connect(student)  # the hub has started
    runtime = app.context.hub_control.hub
    burst = 300

    async def broadcast() -> None:
        await asyncio.gather(
            *(runtime.to_room(room, "hub:typing", {"roomId": room, "userId": str(i)}) for i in range(burst))
        )

    with caplog.at_level(logging.ERROR, logger="socketio"):
        messages = await published_while(broadcast)

    assert sorted({int(m["data"][0]["userId"]) for m in messages}) == list(range(burst))
    assert not [r for r in caplog.records if "Cannot publish" in r.getMessage()]
    pool = runtime.sio.manager.redis.connection_pool
    assert pool.max_connections == 3
    # Written together, through one connection: the pool opened the listener's and one more
    # (one per publish in flight, up to the pool's 3, when each went on its own).
    assert len(pool._available_connections) + len(pool._in_use_connections) == 2


async def test_publishers_are_not_left_waiting_when_the_writer_is_cancelled(
    app: Any, hub: Sockets, student: User
) -> None:
    """A stopping process cancels its tasks, the writer too, perhaps before it ever ran: whoever
    waits for a message to be written returns instead of waiting forever."""
    await hub.connect(student)  # the hub has started
    manager = app.context.hub_control.hub.sio.manager
    publishes = [asyncio.create_task(manager._publish({"method": "test", "n": n})) for n in range(3)]
    await asyncio.sleep(0)  # each queued its message; the writer is created, not yet started
    cancel_drainer("publish")

    await asyncio.wait_for(asyncio.gather(*publishes), 5)
