"""Joins read together (``hub.joining``): after a restart every client rejoins at once, so the
joins queued while a batch is read are checked and read in one unit of work, three statements
whatever the batch's size, and each join still gets exactly the outcome it would get alone.

A batch is made deterministic by holding the joins' turn at the database while the joins arrive.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from tests.support.hub_rooms import create_room, store_texts
from tests.support.sockets import HubClient, Sockets
from tests.support.users import User
from tests.test_hub_rejoin_cost import counting, known_room, restarted
from tutorhub_messaging.settings import Settings


@contextmanager
def commits(app: Any) -> Iterator[list[int]]:
    """Transactions committed on the app's engine while the block runs."""
    seen: list[int] = []
    engine = app.context.db.engine.sync_engine

    def record(conn: Any) -> None:
        seen.append(1)

    event.listen(engine, "commit", record)
    try:
        yield seen
    finally:
        event.remove(engine, "commit", record)


@asynccontextmanager
async def one_batch(app: Any, count: int) -> AsyncIterator[None]:
    """The joins sent inside the block are read as one batch once it ends: the joins' turn at the
    database is held until all ``count`` are queued."""
    joins = app.context.hub_control.hub.joins
    await joins.turn.acquire()
    try:
        yield
        for _ in range(500):
            if joins.waiting >= count:
                break
            await asyncio.sleep(0.01)
        assert joins.waiting == count
    finally:
        joins.turn.release()


def _bodies(history: dict[str, Any]) -> list[str]:
    return [m["content"]["body"] for m in history["messages"]]


async def _joined(socket: HubClient, room: str) -> tuple[dict[str, Any], dict[str, Any]]:
    joined = await socket.next("hub:joined", lambda p: p.get("roomId") == room)
    history = await socket.next("hub:history", lambda p: p.get("roomId") == room)
    return joined, history


async def test_concurrent_rejoins_after_a_restart_cost_one_unit_of_work_of_three_reads(
    app: Any, hub: Sockets, settings: Settings
) -> None:
    pairs = [(User("student"), User("tutor")) for _ in range(5)]
    known = [await known_room(app, hub, student, tutor) for student, tutor in pairs]
    await store_texts(app, known[0][0], pairs[0][0], "while away")

    async with restarted(settings) as (fresh, sockets):
        tutors = [await sockets.connect(tutor) for _, tutor in pairs]
        with counting(fresh) as statements, commits(fresh) as committed:
            async with one_batch(fresh, len(tutors)):
                for socket, (room, last) in zip(tutors, known, strict=True):
                    await socket.emit("hub:join", {"roomId": room, "after": last})
            answers = [await _joined(socket, room) for socket, (room, _) in zip(tutors, known, strict=True)]
            await sockets.quiet()

    assert [joined["roomId"] for joined, _ in answers] == [room for room, _ in known]
    assert [_bodies(history) for _, history in answers] == [["while away"], [], [], [], []]
    assert statements.writes == []
    # Rooms, moderation in force and every page: one statement each for the five joins, in one
    # transaction (read one by one, they took five transactions and fifteen statements).
    assert len(statements.reads) == 3, statements.seen
    assert len(committed) == 1


async def test_a_batch_mixing_allowed_and_refused_joins_answers_each_as_it_would_alone(
    app: Any, hub: Sockets, student: User, tutor: User, stranger: User, super_admin: User
) -> None:
    room = await create_room(app, student, tutor)
    first, second = await store_texts(app, room, student, "hello", "again")
    closed_student, closed_tutor = User("student"), User("tutor")
    closed = await create_room(app, closed_student, closed_tutor, status="closed")
    blocked_student = User("student")
    blocked_room = await create_room(app, blocked_student, User("tutor"))
    moderator = await hub.connect(super_admin)
    assert (await moderator.call("hub:block", {"roomId": blocked_room, "userId": blocked_student.id}))[
        "success"
    ]
    other_student, other_tutor = User("student"), User("tutor")
    other_room = await create_room(app, other_student, other_tutor)
    refused = [
        (stranger, {"roomId": room}),  # NOT_AUTHORIZED
        (User("student"), {"roomId": str(uuid.uuid4())}),  # ROOM_NOT_FOUND
        (closed_student, {"roomId": closed}),  # ROOM_NOT_ELIGIBLE
        (blocked_student, {"roomId": blocked_room}),  # BLOCKED
        (other_tutor, {"roomId": other_room, "after": first["id"]}),  # after: another room's message
    ]
    refused_sockets = [await hub.connect(user) for user, _ in refused]
    alone = []
    for socket, (_, payload) in zip(refused_sockets, refused, strict=True):
        ack = await socket.call("hub:join", payload)
        alone.append((ack, await socket.next("hub:error")))
    assert [ack["code"] for ack, _ in alone] == [
        "NOT_AUTHORIZED",
        "ROOM_NOT_FOUND",
        "ROOM_NOT_ELIGIBLE",
        "BLOCKED",
        "INVALID_PAYLOAD",
    ]
    tutor_socket, student_socket = await hub.connect(tutor), await hub.connect(student)

    async with one_batch(app, 2 + len(refused)):
        calls = [
            asyncio.create_task(tutor_socket.call("hub:join", {"roomId": room, "after": first["id"]})),
            asyncio.create_task(student_socket.call("hub:join", {"roomId": room})),
        ] + [
            asyncio.create_task(socket.call("hub:join", payload))
            for socket, (_, payload) in zip(refused_sockets, refused, strict=True)
        ]
    acks = await asyncio.gather(*calls)

    assert acks[:2] == [{"success": True}, {"success": True}]
    _, tutor_history = await _joined(tutor_socket, room)
    assert _bodies(tutor_history) == ["again"]  # after ``first``, oldest first
    _, student_history = await _joined(student_socket, room)
    assert [m["id"] for m in student_history["messages"]] == [second["id"], first["id"]]  # newest first
    for socket, ack, (ack_alone, error_alone) in zip(refused_sockets, acks[2:], alone, strict=True):
        assert ack == ack_alone
        assert await socket.next("hub:error") == error_alone
        assert "hub:joined" not in socket.names()
    # Both allowed sockets are in the room: a message reaches the other one live.
    assert (await student_socket.send(room, "live"))["success"] is True
    arrived = await tutor_socket.next("hub:messageArrived")
    assert arrived["message"]["content"] == {"body": "live"}


async def test_a_block_landing_after_the_batch_was_read_still_removes_the_joiner(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    room = await create_room(app, student, tutor)
    joins = app.context.hub_control.hub.joins
    moderator = await hub.connect(super_admin)
    socket = await hub.connect(student)
    read_together = joins._read_together

    async def then_block(batch: Any) -> Any:
        outcomes = await read_together(batch)  # checked: not blocked
        assert (await moderator.call("hub:block", {"roomId": room, "userId": student.id}))["success"]
        return outcomes

    monkeypatch.setattr(joins._batches, "_handle", then_block)
    assert (await socket.call("hub:join", {"roomId": room}))["success"] is True
    monkeypatch.undo()

    await _joined(socket, room)
    assert await socket.next("hub:blocked") == {"roomId": room, "reason": None}
    assert (await socket.send(room, "still in?"))["code"] == "NOT_JOINED"
