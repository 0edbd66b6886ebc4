"""hub:send's group commit: sends that arrive together are stored in one unit of work, yet each
behaves exactly as if it had been sent alone (its own ack or error, its own broadcast, arrival
order kept), and one failing send never costs another its delivery."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, update

from tests.support.hub_rooms import create_room, message_count, read_time
from tests.support.sockets import HubClient, Sockets
from tests.support.users import User
from tutorhub_messaging.db.models import ChatMessage, Conversation
from tutorhub_messaging.db.types import iso
from tutorhub_messaging.hub.batching import SendBatcher
from tutorhub_messaging.hub.ratelimit import InMemoryRateLimiter
from tutorhub_messaging.hub.sending import SendRequest
from tutorhub_messaging.messages.service import NewMessage
from tutorhub_messaging.moderation.service import apply_action

ROOMS = 6
PER_SOCKET = 5


async def _joined_pair(app: Any, hub: Sockets) -> tuple[str, User, User, HubClient, HubClient]:
    student, tutor = User("student"), User("tutor")
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    return room, student, tutor, student_socket, tutor_socket


async def _send_all(socket: HubClient, room: str, bodies: list[str]) -> list[dict[str, Any]]:
    return [await socket.send(room, body) for body in bodies]


async def _rows(app: Any, room: str) -> list[ChatMessage]:
    async with app.context.db.unit_of_work() as uow:
        return list(
            await uow.session.scalars(
                select(ChatMessage).where(ChatMessage.room_id == room).order_by(ChatMessage.seq)
            )
        )


async def _conversation(app: Any, room: str) -> Conversation:
    async with app.context.db.unit_of_work() as uow:
        conversation = await uow.session.get(Conversation, room)
        assert conversation is not None
        return conversation


async def test_concurrent_sends_from_many_sockets_are_each_stored_once_and_delivered_in_order(
    app: Any, hub: Sockets
) -> None:
    pairs = [await _joined_pair(app, hub) for _ in range(ROOMS)]
    plans = []
    for room, _, _, student_socket, tutor_socket in pairs:
        for socket, who in ((student_socket, "student"), (tutor_socket, "tutor")):
            plans.append((socket, room, [f"{who} {room[:8]} #{n}" for n in range(PER_SOCKET)]))

    # Every socket sends at once (each waits for its own acks, as the lock makes it anyway).
    acks = await asyncio.gather(*(_send_all(socket, room, bodies) for socket, room, bodies in plans))

    for ack_list in acks:
        assert all(ack["success"] is True for ack in ack_list), ack_list
    for room, student, tutor, student_socket, tutor_socket in pairs:
        rows = await _rows(app, room)
        assert len(rows) == 2 * PER_SOCKET
        assert len({row.id for row in rows}) == len(rows)
        for sender, peer_socket in ((student, tutor_socket), (tutor, student_socket)):
            stored_bodies = [row.content["body"] for row in rows if row.sender_id == sender.id]
            assert stored_bodies == [f"{sender.role} {room[:8]} #{n}" for n in range(PER_SOCKET)]
            arrived = [
                (await peer_socket.next("hub:messageArrived", lambda p, s=sender: p["sender"]["id"] == s.id))
                for _ in range(PER_SOCKET)
            ]
            assert [a["message"]["content"]["body"] for a in arrived] == stored_bodies
            own = [row for row in rows if row.sender_id == sender.id]
            assert await read_time(app, room, sender) == own[-1].timestamp
        conversation = await _conversation(app, room)
        assert conversation.last_message_preview == rows[-1].content["body"]
        assert conversation.last_message_at == rows[-1].timestamp
        # One version step per stored message, as when each was committed on its own.
        assert conversation.record_version == 2 * PER_SOCKET
        for socket in (student_socket, tutor_socket):
            for _ in range(PER_SOCKET):  # the sender's own copies
                await socket.next("hub:messageArrived")
    await hub.quiet()


async def test_refused_sends_among_concurrent_ones_get_their_own_errors_and_store_nothing(
    app: Any, hub: Sockets
) -> None:
    fine_room, _, _, fine_socket, fine_peer = await _joined_pair(app, hub)
    silenced_room, silenced_user, _, silenced_socket, _ = await _joined_pair(app, hub)
    closed_room, _, _, closed_socket, _ = await _joined_pair(app, hub)
    async with app.context.db.unit_of_work() as uow:
        await apply_action(
            uow.session,
            room_id=silenced_room,
            user_id=silenced_user.id,
            action="silenced",
            reason=None,
            duration=0,
            issued_by=silenced_user.id,
        )
        await uow.session.execute(
            update(Conversation).where(Conversation.id == closed_room).values(status="closed")
        )
    bad_payload = {"roomId": fine_room, "messageType": "text", "content": {"body": 42}}

    fine, bad, silenced, closed = await asyncio.gather(
        fine_socket.send(fine_room, "still delivered"),
        fine_peer.call("hub:send", bad_payload),
        silenced_socket.send(silenced_room, "shh"),
        closed_socket.send(closed_room, "anyone?"),
    )

    assert fine["success"] is True
    assert (bad["code"], silenced["code"], closed["code"]) == (
        "INVALID_PAYLOAD",
        "SILENCED",
        "ROOM_NOT_ELIGIBLE",
    )
    assert await message_count(app, fine_room) == 1
    assert await message_count(app, silenced_room) == 0
    assert await message_count(app, closed_room) == 0
    assert (await fine_peer.next("hub:messageArrived"))["message"]["id"] == fine["message"]["id"]
    assert (await fine_socket.next("hub:messageArrived"))["message"]["id"] == fine["message"]["id"]
    await fine_peer.error("INVALID_PAYLOAD")
    await silenced_socket.error("SILENCED")
    await closed_socket.error("ROOM_NOT_ELIGIBLE")
    await hub.quiet()


async def test_one_client_message_id_sent_from_two_sockets_at_once_is_stored_and_broadcast_once(
    app: Any, hub: Sockets
) -> None:
    room, student, _, student_socket, tutor_socket = await _joined_pair(app, hub)
    laptop = await hub.connect(student)
    await laptop.join(room)

    first, second = await asyncio.gather(
        student_socket.send(room, "only once", clientMessageId="retry-1"),
        laptop.send(room, "only once", clientMessageId="retry-1"),
    )

    assert first["success"] is True and second["success"] is True
    assert first["message"]["id"] == second["message"]["id"]
    assert await message_count(app, room) == 1
    for socket in (student_socket, tutor_socket, laptop):
        assert (await socket.next("hub:messageArrived"))["message"]["id"] == first["message"]["id"]
    await hub.quiet()


async def test_a_send_the_database_refuses_fails_alone_and_the_rest_of_its_batch_is_stored(
    app: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The requests go to a batcher directly: only a hand-made payload (a date inside systemData,
    # valid for every check but not storable as JSON) gets as far as the database and fails there.
    # Sent together, the three land in one batch, which fails and is retried one send at a time.
    users = [User("student") for _ in range(3)]
    rooms = [await create_room(app, user, User("tutor")) for user in users]
    # One message per user per minute: a send retried after its batch failed must not need a second.
    batcher = SendBatcher(replace(app.context, rate_limiter=InMemoryRateLimiter(1)))
    unstorable = NewMessage("system", {"systemAction": "x", "systemData": {"at": datetime.now(UTC)}})
    requests = [
        SendRequest(await _principal(app, users[0]), rooms[0], NewMessage("text", {"body": "first"})),
        SendRequest(await _principal(app, users[1]), rooms[1], unstorable),
        SendRequest(await _principal(app, users[2]), rooms[2], NewMessage("text", {"body": "third"})),
    ]

    outcomes = await asyncio.gather(*(batcher.send(r) for r in requests), return_exceptions=True)

    assert any("send batch of 3 failed" in r.getMessage() for r in caplog.records)  # one batch
    first, failed, third = outcomes
    assert not isinstance(first, BaseException) and first.record["content"] == {"body": "first"}
    assert isinstance(failed, Exception)
    assert not isinstance(third, BaseException) and third.record["content"] == {"body": "third"}
    assert [await message_count(app, room) for room in rooms] == [1, 0, 1]
    conversation = await _conversation(app, rooms[0])
    assert iso(conversation.last_message_at) == first.record["timestamp"]


async def _principal(app: Any, user: User) -> Any:
    return await app.context.authenticator.authenticate(user.token)
