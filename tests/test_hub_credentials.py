"""Open sockets follow their credentials: an expired token or a deleted session ends the socket
(the room sees the user leave), and reconnecting then needs a fresh token."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import orjson
import pytest
from redis.asyncio import Redis

from tests.support.hub_rooms import create_room
from tests.support.sockets import HubClient, Sockets
from tests.support.users import TEST_SECRET, User
from tutorhub_messaging.identity.tokens import EXPIRY_LEEWAY_SECONDS

# Bounds for waiting, not expectations: the events come as soon as the server acts.
DISCONNECT_WITHIN = 20.0
REDIS_URL = "redis://127.0.0.1:6379/5"


def token_for(user: User, *, expires_in: float, session_id: str | None = None, **claims: Any) -> str:
    now = time.time()
    body = {
        "userId": user.id,
        "sessionId": session_id or str(uuid.uuid4()),
        "roleId": user.role,
        "fullname": user.fullname,
        "iat": int(now),
        "exp": int(now + expires_in),
        **claims,
    }
    return jwt.encode(body, TEST_SECRET, algorithm="HS256")


async def disconnected(client: HubClient, within: float = DISCONNECT_WITHIN) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while client.sio.connected:
        assert loop.time() < deadline, "the socket is still connected"
        await asyncio.sleep(0.05)


async def test_a_socket_is_closed_when_its_token_expires_and_a_fresh_token_reconnects(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    watcher = await hub.connect(tutor)
    await watcher.join(room)
    # Accepted for the leeway every token gets, then expired a few seconds from now: long enough
    # for the connect and join below to finish on a loaded machine.
    short = token_for(student, expires_in=4 - EXPIRY_LEEWAY_SECONDS)
    socket = await hub.connect_with(auth={"token": short})
    await socket.join(room)
    await watcher.next("hub:presence", lambda p: p["event"] == "joined")
    await watcher.next("hub:online")

    await disconnected(socket)

    left = await watcher.next("hub:presence", lambda p: p["event"] == "left", within=DISCONNECT_WITHIN)
    assert left["user"]["id"] == student.id
    await watcher.next("hub:offline")
    refusals: list[Any] = []
    retry = HubClient(None, "/hub/chat")
    hub.clients.append(retry)
    retry.sio.on("connect_error", refusals.append, namespace="/hub/chat")
    with pytest.raises(Exception):  # noqa: B017 - the client raises its own ConnectionError
        await retry.sio.connect(
            hub.server_url, namespaces=["/hub/chat"], auth={"token": short}, transports=["websocket"]
        )
    assert refusals == [{"message": "Invalid token", "data": {"code": "TOKEN_EXPIRED"}}]
    fresh = await hub.connect(student)
    joined, _ = await fresh.join(room)
    assert joined["roomId"] == room


async def test_each_socket_ends_at_its_own_expiry_and_one_gone_before_it_changes_nothing(
    app: Any, hub: Sockets
) -> None:
    """One timer for the process: sockets connected in another order than they expire each end
    at their own time, a socket that left before its expiry is skipped, and a socket whose token
    lasts stays."""
    users = [User("student") for _ in range(4)]
    later = await hub.connect_with(auth={"token": token_for(users[0], expires_in=7 - EXPIRY_LEEWAY_SECONDS)})
    gone = await hub.connect_with(auth={"token": token_for(users[1], expires_in=3 - EXPIRY_LEEWAY_SECONDS)})
    sooner = await hub.connect_with(auth={"token": token_for(users[2], expires_in=4 - EXPIRY_LEEWAY_SECONDS)})
    lasting = await hub.connect(users[3])
    await gone.disconnect()

    await disconnected(sooner)
    assert later.sio.connected, "ended with the sooner one, seconds before its own expiry"
    await disconnected(later)

    assert lasting.sio.connected
    assert set(app.context.hub_control.hub.connections) == {lasting.sid}


async def test_expiries_of_sockets_gone_before_them_do_not_pile_up(app: Any, hub: Sockets) -> None:
    """A socket that leaves keeps its entry until the heap holds twice the open sockets (+64);
    then only the open sockets' entries are kept, and they still end at their own expiry."""
    runtime = app.context.hub_control.hub
    watch = runtime.credentials
    kept = await hub.connect_with(auth={"token": token_for(User("student"), expires_in=3600)})
    most = 0
    for _ in range(80):
        passing = await hub.connect_with(auth={"token": token_for(User("student"), expires_in=3600)})
        most = max(most, watch.entries)
        await passing.disconnect()
    assert most <= 2 * 2 + 64 + 1  # two open at most while one passes; the bound, plus its own entry
    assert watch.entries < 20  # rebuilt on the way: 81 sockets came, not 81 entries

    ending = await hub.connect_with(
        auth={"token": token_for(User("student"), expires_in=3 - EXPIRY_LEEWAY_SECONDS)}
    )
    await disconnected(ending)
    assert kept.sio.connected
    assert set(runtime.connections) == {kept.sid}


@pytest.fixture
async def sessions() -> AsyncIterator[Redis]:
    redis = Redis.from_url(REDIS_URL)
    yield redis
    await redis.aclose()


@pytest.mark.parametrize(
    "settings_overrides",
    [{"session_store": "redis", "redis_url": REDIS_URL, "session_recheck_seconds": 0.2}],
)
async def test_a_deleted_session_closes_its_open_sockets(
    app: Any, hub: Sockets, client: httpx.AsyncClient, sessions: Redis, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    revoked, kept = str(uuid.uuid4()), str(uuid.uuid4())
    for session_id, user in ((revoked, student), (kept, tutor)):
        value = {"userId": user.id, "roleId": user.role, "fullname": user.fullname}
        await sessions.set(f"hexasession:{session_id}", orjson.dumps(value), ex=300)
    student_token = token_for(student, expires_in=600, session_id=revoked)
    tutor_token = token_for(tutor, expires_in=600, session_id=kept)
    watcher = await hub.connect_with(auth={"token": tutor_token})
    await watcher.join(room)
    socket = await hub.connect_with(auth={"token": student_token})
    await socket.join(room)
    await watcher.next("hub:presence", lambda p: p["event"] == "joined")

    try:
        await sessions.delete(f"hexasession:{revoked}")

        await disconnected(socket)
        left = await watcher.next("hub:presence", lambda p: p["event"] == "left", within=DISCONNECT_WITHIN)
        assert left["user"]["id"] == student.id
        rest = await client.get("/v1/myconversations", headers={"Authorization": f"Bearer {student_token}"})
        assert rest.status_code == 401
        # The other session's socket is untouched.
        assert watcher.sio.connected
        ack = await watcher.send(room, "still here")
        assert ack["success"] is True
    finally:
        await sessions.delete(f"hexasession:{kept}")
