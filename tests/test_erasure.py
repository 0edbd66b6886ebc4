"""DELETE /v1/m2m/users/{userId}: a user is erased from every surface (history, lists, inbox
previews, replies, events), their conversations closed and their sockets disconnected; moderation
records are kept; erasing again changes nothing."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.conversations import EnrollmentSpec, assert_error, open_student_tutor
from tests.support.sockets import Sockets
from tests.support.users import User, service_headers
from tutorhub_messaging.db.models import (
    ChatMessage,
    ChatModeration,
    DirectoryUser,
    Enrollment,
    OutboxEvent,
    ReadState,
)
from tutorhub_messaging.moderation.service import apply_action

SECRETS = ("student secret one", "student secret two", "student secret last")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"erasure_batch_size": 2}  # several batches for a handful of messages


@dataclass
class World:
    room: str
    channel: str
    messages: list[dict[str, Any]]
    reply: dict[str, Any]


async def post(client: httpx.AsyncClient, user: User, room: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(f"/chat/{room}/messages", headers=user.headers, json=body)
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()["data"]
    return message


async def build_world(app: Any, client: httpx.AsyncClient, student: User, tutor: User, admin: User) -> World:
    spec = EnrollmentSpec(student, tutor)
    room = (await open_student_tutor(client, spec))["id"]
    first = await post(client, student, room, {"data": {"body": SECRETS[0]}})
    second = await post(client, student, room, {"data": {"body": SECRETS[1]}})
    reply = await post(client, tutor, room, {"data": {"body": "tutor answer"}, "replyTo": first["id"]})
    assert reply["replyTo"] == {"id": first["id"], "preview": SECRETS[0]}
    last = await post(client, student, room, {"data": {"body": SECRETS[2]}})
    warning = await client.post(
        "/v1/sendsystemmessage",
        headers=service_headers(),
        json={"targetUserId": student.id, "targetUserRole": "student", "messageContent": "Be polite."},
    )
    channel = warning.json()["conversation"]["id"]
    async with app.context.db.unit_of_work() as uow:
        await apply_action(
            uow.session,
            room_id=room,
            user_id=student.id,
            action="silenced",
            reason="shouting",
            duration=0,
            issued_by=admin.id,
        )
    return World(room, channel, [first, second, last], reply)


async def erase(client: httpx.AsyncClient, user_id: str, **headers: str) -> httpx.Response:
    return await client.delete(f"/v1/m2m/users/{user_id}", headers={**service_headers("users"), **headers})


async def events_since(app: Any, seq: int) -> list[tuple[str, str]]:
    async with app.context.db.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(OutboxEvent.type, OutboxEvent.payload)
            .where(OutboxEvent.seq > seq)
            .order_by(OutboxEvent.seq)
        )
        return [(kind, payload) for kind, payload in rows]


async def last_event_seq(app: Any) -> int:
    async with app.context.db.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.max(OutboxEvent.seq))) or 0)


def shows_nothing_of(text: str, user: User) -> None:
    for secret in (*SECRETS, user.fullname or "", user.avatar or ""):
        assert secret not in text, secret


async def test_every_surface_forgets_the_user(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User, admin: User
) -> None:
    world = await build_world(app, client, student, tutor, admin)
    before = await last_event_seq(app)

    response = await erase(client, student.id)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dataName"] == "user"
    assert body["action"] == "delete"
    assert body["user"] == {
        "id": student.id,
        "messagesErased": 3,
        "repliesCleared": 1,
        "conversationsClosed": 2,
        "readStatesRemoved": 1,
        "directoryRowRemoved": True,
    }
    # History: only the tutor's reply is left, and it no longer quotes the erased message.
    history = await client.get(f"/chat/{world.room}/messages", headers=tutor.headers)
    assert history.status_code == 200, history.text
    [remaining] = history.json()["data"]
    assert remaining["id"] == world.reply["id"]
    assert remaining["replyTo"] == {"id": world.messages[0]["id"], "preview": ""}
    shows_nothing_of(history.text, student)
    # Lists and single reads, even an admin's.
    listed = await client.get("/v1/v1/chat-messages", headers=admin.headers, params={"pageRowCount": 100})
    assert listed.status_code == 200, listed.text
    shows_nothing_of(listed.text, student)
    for message in world.messages:
        one = await client.get(f"/v1/v1/chat-messages/{message['id']}", headers=admin.headers)
        assert_error(one, 404, "errMsg_chatMessageNotFound")
    # Inbox previews: the tutor's conversation is closed and previews the tutor's own reply.
    inbox = await client.get("/v1/myconversations", headers=tutor.headers)
    [conversation] = inbox.json()["conversations"]
    assert conversation["status"] == "closed"
    assert conversation["lastMessagePreview"] == "tutor answer"
    assert conversation["participantAName"] is None
    shows_nothing_of(inbox.text, student)
    channel = await client.get(f"/v1/conversations/{world.channel}", headers=admin.headers)
    assert channel.json()["conversation"]["status"] == "closed"
    assert channel.json()["conversation"]["lastMessagePreview"] == "Be polite."
    # Read state, directory row and the enrollment read model's name are gone; moderation stays.
    async with app.context.db.unit_of_work() as uow:
        session = uow.session
        assert await session.get(DirectoryUser, student.id) is None
        stored = (await session.scalars(select(ChatMessage).where(ChatMessage.sender_id == student.id))).all()
        assert len(stored) == 3
        for row in stored:
            assert (row.is_active, row.content, row.sender_name, row.sender_avatar) == (False, {}, None, None)
        assert (await session.scalars(select(ReadState).where(ReadState.user_id == student.id))).all() == []
        names = (await session.scalars(select(Enrollment.student_name))).all()
        assert names == [None]
        [kept] = (
            await session.scalars(select(ChatModeration).where(ChatModeration.user_id == student.id))
        ).all()
        assert (kept.action, kept.reason, kept.is_active) == ("silenced", "shouting", True)
    # Events for every change, and none repeats what was erased.
    events = await events_since(app, before)
    assert Counter(kind for kind, _ in events) == {
        "chatMessage.deleted": 3,
        "chatMessage.updated": 1,
        "conversation.updated": 2,
        "readState.updated": 1,
    }
    for _, payload in events:
        shows_nothing_of(payload, student)
        assert '"previous"' not in payload


async def test_erasing_again_changes_nothing_and_records_no_event(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User, admin: User
) -> None:
    await build_world(app, client, student, tutor, admin)
    assert (await erase(client, student.id)).status_code == 200
    before = await last_event_seq(app)
    again = await erase(client, student.id)
    assert again.status_code == 200
    assert again.json()["user"] == {
        "id": student.id,
        "messagesErased": 0,
        "repliesCleared": 0,
        "conversationsClosed": 0,
        "readStatesRemoved": 0,
        "directoryRowRemoved": False,
    }
    assert await events_since(app, before) == []


async def test_an_unknown_user_is_erased_with_nothing_to_do(client: httpx.AsyncClient) -> None:
    response = await erase(client, User().id)
    assert response.status_code == 200
    assert response.json()["user"]["messagesErased"] == 0


async def test_a_message_deleted_before_is_emptied_too(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    room = (await open_student_tutor(client, EnrollmentSpec(student, tutor)))["id"]
    message = await post(client, student, room, {"data": {"body": SECRETS[0]}})
    deleted = await client.delete(f"/v1/v1/chat-messages/{message['id']}", headers=student.headers)
    assert deleted.status_code == 200, deleted.text
    before = await last_event_seq(app)
    assert (await erase(client, student.id)).json()["user"]["messagesErased"] == 1
    kinds = [kind for kind, _ in await events_since(app, before)]
    assert kinds.count("chatMessage.deleted") == 1
    for _, payload in await events_since(app, before):
        shows_nothing_of(payload, student)


async def test_the_erasure_is_idempotent_under_an_idempotency_key(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User, admin: User
) -> None:
    await build_world(app, client, student, tutor, admin)
    first = await erase(client, student.id, **{"Idempotency-Key": "erase-1"})
    again = await erase(client, student.id, **{"Idempotency-Key": "erase-1"})
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.json()["user"]["messagesErased"] == 3
    other = await client.delete(
        f"/v1/m2m/users/{tutor.id}", headers={**service_headers("users"), "Idempotency-Key": "erase-1"}
    )
    assert_error(other, 409, "errMsg_idempotencyKeyReused")


async def test_the_users_sockets_are_disconnected_and_the_room_emptied(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    room = (await open_student_tutor(client, EnrollmentSpec(student, tutor)))["id"]
    erased = await hub.connect(student)
    idle = await hub.connect(student)  # connected, in no room
    watcher = await hub.connect(tutor)
    await watcher.join(room)
    await erased.join(room)
    await watcher.next("hub:presence", lambda p: p["event"] == "joined")
    await watcher.next("hub:online")

    assert (await erase(client, student.id)).status_code == 200

    error = await watcher.error("ROOM_NOT_ELIGIBLE")
    assert error["roomId"] == room
    await erased.error("ROOM_NOT_ELIGIBLE")
    for socket in (erased, idle):
        for _ in range(100):
            if not socket.sio.connected:
                break
            await asyncio.sleep(0.05)
        assert not socket.sio.connected
    assert watcher.sio.connected


async def test_bad_input_is_refused(client: httpx.AsyncClient, student: User, admin: User) -> None:
    assert_error(
        await client.delete("/v1/m2m/users/not-a-uuid", headers=service_headers()),
        400,
        "errMsg_userIdisNotAValidID",
    )
    assert_error(await client.delete(f"/v1/m2m/users/{student.id}"), 401, "errMsg_loginRequired")
    for user in (student, admin):
        assert_error(
            await client.delete(f"/v1/m2m/users/{student.id}", headers=user.headers),
            403,
            "errMsg_m2mTokenRequired",
        )
