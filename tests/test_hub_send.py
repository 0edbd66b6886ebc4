"""hub:send: who receives a message, the ack, ordering, idempotency, and every refusal."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.hub_rooms import create_room, message_count, store_texts
from tests.support.sockets import Sockets
from tests.support.users import User, service_headers
from tutorhub_messaging.db.models import Conversation

# Media fields take absolute http(s) URLs only: a client renders them as links and images.
NOT_WEB_URLS = [
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "data:image/png;base64,AAAA",
    "/relative/a.png",
    "a.png",
    "//evil.test/a.png",
    "https://",
    "ftp://x.test/a.png",
    "https://x.test/a b.png",
    "java\nscript:alert(1)",
    "http://[::1",
]


async def test_a_message_reaches_every_socket_of_the_room_and_the_sender_gets_an_ack(
    app: Any, hub: Sockets, student: User, tutor: User, admin: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    tutor_laptop = await hub.connect(tutor, prefixed=True)
    await tutor_laptop.join(room)
    elsewhere = await create_room(app, admin, tutor, kind="adminTutor")
    admin_socket = await hub.connect(admin)
    await admin_socket.join(elsewhere)
    outsider = await hub.connect(student)  # connected, but has not joined the room

    ack = await student_socket.send(room, "Hello tutor")

    assert ack["success"] is True
    message = ack["message"]
    assert message["roomId"] == room
    assert message["senderId"] == student.id
    assert message["senderName"] == student.fullname
    assert message["content"] == {"body": "Hello tutor"}
    expected = {
        "roomId": room,
        "sender": {"id": student.id, "fullname": student.fullname, "avatar": student.avatar},
        "message": message,
    }
    for socket in (student_socket, tutor_socket, tutor_laptop):
        assert await socket.next("hub:messageArrived") == expected
    assert outsider.pending() == []
    await hub.quiet()


async def test_sockets_on_both_namespaces_see_each_others_messages(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    prefixed = await hub.connect(student, prefixed=True)
    plain = await hub.connect(tutor, transport="polling")
    await prefixed.join(room)
    await plain.join(room)
    await prefixed.next("hub:presence")
    await prefixed.next("hub:online")

    from_plain = await plain.send(room, "from the plain namespace")
    from_prefixed = await prefixed.send(room, "from the prefixed namespace")

    for socket in (prefixed, plain):
        first = await socket.next("hub:messageArrived")
        second = await socket.next("hub:messageArrived")
        assert [first["message"]["id"], second["message"]["id"]] == [
            from_plain["message"]["id"],
            from_prefixed["message"]["id"],
        ]
    await hub.quiet()


async def test_a_socket_that_has_not_joined_cannot_send(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(student)

    ack = await socket.send(room, "hello?")

    assert ack == {"success": False, "error": ack["error"], "code": "NOT_JOINED"}
    error = await socket.error("NOT_JOINED")
    assert error["roomId"] == room
    assert await message_count(app, room) == 0
    await hub.quiet()


async def test_a_stranger_sending_to_a_room_learns_only_that_they_have_not_joined(
    app: Any, hub: Sockets, student: User, tutor: User, stranger: User
) -> None:
    room, _, _ = await hub.joined_pair(app, student, tutor)
    socket = await hub.connect(stranger)

    await socket.emit("hub:send", {"roomId": room, "messageType": "text", "content": {"body": "spam"}})

    await socket.error("NOT_JOINED")
    assert await message_count(app, room) == 0
    await hub.quiet()


async def test_a_viewer_cannot_send_and_nothing_is_stored_or_broadcast(
    app: Any, hub: Sockets, student: User, admin: User
) -> None:
    room = await create_room(app, admin, student, kind="adminStudent")
    viewer = await hub.connect(student)
    admin_socket = await hub.connect(admin)
    await viewer.join(room)
    await admin_socket.join(room)
    await viewer.next("hub:presence")
    await viewer.next("hub:online")

    ack = await viewer.send(room, "may I talk?")

    assert ack["success"] is False
    assert ack["code"] == "SEND_NOT_ALLOWED"
    await viewer.error("SEND_NOT_ALLOWED")
    assert await message_count(app, room) == 0
    await hub.quiet()


async def test_an_admin_warning_reaches_the_viewer(
    app: Any, hub: Sockets, student: User, admin: User
) -> None:
    room = await create_room(app, admin, student, kind="adminStudent")
    viewer = await hub.connect(student)
    admin_socket = await hub.connect(admin)
    await viewer.join(room)
    await admin_socket.join(room)
    await viewer.next("hub:presence")
    await viewer.next("hub:online")

    ack = await admin_socket.call(
        "hub:send",
        {
            "roomId": room,
            "messageType": "warning",
            "content": {"body": "Mind the rules", "severity": "warning"},
        },
    )

    assert ack["success"] is True
    arrived = await viewer.next("hub:messageArrived")
    assert arrived["message"]["messageType"] == "warning"
    await admin_socket.next("hub:messageArrived")
    await hub.quiet()


@pytest.mark.parametrize(
    "payload",
    [
        {"messageType": "video", "content": {"body": "x"}},
        {"messageType": "text", "content": {}},
        {"messageType": "text", "content": {"body": ""}},
        {"messageType": "text", "content": {"body": 42}},
        {"messageType": "text", "content": "just a string"},
        {"messageType": "text", "content": ["a", "list"]},
        {"messageType": "text"},
        {"content": {"body": "no type"}},
        {"messageType": 7, "content": {"body": "x"}},
        {"messageType": "image", "content": {"caption": "no url"}},
        {"messageType": "image", "content": {"mediaUrl": "https://x.test/a.png", "width": -1}},
        {"messageType": "document", "content": {"mediaUrl": "https://x.test/a.pdf"}},
        {"messageType": "warning", "content": {"body": "x", "severity": "apocalyptic"}},
        {"messageType": "text", "content": {"body": "x"}, "forwarded": "yes"},
        {"messageType": "text", "content": {"body": "x"}, "clientMessageId": "c" * 65},
        {"messageType": "text", "content": {"body": "x"}, "clientMessageId": 12},
        {"messageType": "text", "content": {"body": "x"}, "replyTo": "not-an-id"},
        {"messageType": "text", "content": {"body": "x"}, "replyTo": "0b7e9d8c-1111-4222-8333-444455556666"},
        {"messageType": "text", "content": {"body": "x"}, "replyTo": {"id": 5}},
        *({"messageType": "image", "content": {"mediaUrl": url}} for url in NOT_WEB_URLS),
        {
            "messageType": "image",
            "content": {"mediaUrl": "https://x.test/a.png", "thumbnail": "javascript:x"},
        },
        {"messageType": "document", "content": {"mediaUrl": "data:text/html,<b>x</b>", "fileName": "a.pdf"}},
    ],
)
async def test_an_ill_formed_message_is_invalid_and_not_stored(
    app: Any, hub: Sockets, student: User, tutor: User, payload: dict[str, Any]
) -> None:
    room, student_socket, _ = await hub.joined_pair(app, student, tutor)

    ack = await student_socket.call("hub:send", {"roomId": room, **payload})

    assert ack["success"] is False
    assert ack["code"] == "INVALID_PAYLOAD"
    error = await student_socket.error("INVALID_PAYLOAD")
    assert error["roomId"] == room
    assert await message_count(app, room) == 0
    await hub.quiet()


async def test_a_reply_to_a_message_of_another_room_is_invalid(
    app: Any, hub: Sockets, student: User, tutor: User, admin: User
) -> None:
    room, student_socket, _ = await hub.joined_pair(app, student, tutor)
    other = await create_room(app, admin, student, kind="adminStudent")
    foreign = await store_texts(app, other, admin, "elsewhere")

    ack = await student_socket.send(room, "re", replyTo=foreign[0]["id"])

    assert ack["code"] == "INVALID_PAYLOAD"
    await student_socket.error("INVALID_PAYLOAD")
    await hub.quiet()


@pytest.mark.parametrize("form", ["id", "object"])
async def test_a_reply_is_stored_with_the_targets_id_and_preview(
    app: Any, hub: Sockets, student: User, tutor: User, form: str
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    original = (await tutor_socket.send(room, "What is 2 + 2?"))["message"]
    await student_socket.next("hub:messageArrived")
    await tutor_socket.next("hub:messageArrived")

    reply_to = original["id"] if form == "id" else {"id": original["id"]}
    ack = await student_socket.send(room, "4", replyTo=reply_to, forwarded=True)

    assert ack["message"]["replyTo"] == {"id": original["id"], "preview": "What is 2 + 2?"}
    assert ack["message"]["forwarded"] is True
    arrived = await tutor_socket.next("hub:messageArrived")
    assert arrived["message"]["replyTo"] == {"id": original["id"], "preview": "What is 2 + 2?"}
    await student_socket.next("hub:messageArrived")
    await hub.quiet()


async def test_a_message_over_the_default_size_limit_is_too_large_and_the_socket_stays(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)

    ack = await student_socket.send(room, "x" * 70_000)

    assert ack["code"] == "MESSAGE_TOO_LARGE"
    await student_socket.error("MESSAGE_TOO_LARGE")
    assert (await student_socket.send(room, "still here"))["success"] is True
    assert await message_count(app, room) == 1
    for socket in (student_socket, tutor_socket):
        assert (await socket.next("hub:messageArrived"))["message"]["content"] == {"body": "still here"}
    await hub.quiet()


@pytest.mark.parametrize("settings_overrides", [{"max_message_bytes": 200}])
async def test_the_size_limit_follows_the_setting(app: Any, hub: Sockets, student: User, tutor: User) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)

    too_large = await student_socket.send(room, "y" * 200)
    fits = await student_socket.send(room, "y" * 150)

    assert too_large["code"] == "MESSAGE_TOO_LARGE"
    await student_socket.error("MESSAGE_TOO_LARGE")
    assert fits["success"] is True
    await student_socket.next("hub:messageArrived")
    await tutor_socket.next("hub:messageArrived")
    await hub.quiet()


@pytest.mark.parametrize("settings_overrides", [{"message_rate_per_minute": 2}])
async def test_the_rate_limit_counts_a_users_messages_across_sockets(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    second_socket = await hub.connect(student, prefixed=True)
    await second_socket.join(room)

    assert (await student_socket.send(room, "one"))["success"] is True
    assert (await second_socket.send(room, "two"))["success"] is True
    third = await student_socket.send(room, "three")

    assert third["code"] == "RATE_LIMITED"
    await student_socket.error("RATE_LIMITED")
    assert (await tutor_socket.send(room, "the tutor has their own budget"))["success"] is True
    assert await message_count(app, room) == 3
    for socket in (student_socket, second_socket, tutor_socket):
        for _ in range(3):
            await socket.next("hub:messageArrived")
    await hub.quiet()


async def test_a_client_message_id_retry_returns_the_stored_message_and_broadcasts_nothing(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)

    first = await student_socket.send(room, "exactly once", clientMessageId="c-1")
    await tutor_socket.next("hub:messageArrived")
    await student_socket.next("hub:messageArrived")
    retry = await student_socket.send(room, "exactly once", clientMessageId="c-1")

    assert retry == first
    assert first["message"]["clientMessageId"] == "c-1"
    assert await message_count(app, room) == 1
    await hub.quiet()


async def test_a_clients_messages_are_stored_and_delivered_in_the_order_sent(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    bodies = [f"message {i}" for i in range(12)]

    for body in bodies:  # no waiting for acks in between
        await student_socket.emit(
            "hub:send", {"roomId": room, "messageType": "text", "content": {"body": body}}
        )

    arrived = [await tutor_socket.next("hub:messageArrived") for _ in bodies]
    assert [a["message"]["content"]["body"] for a in arrived] == bodies
    for _ in bodies:
        await student_socket.next("hub:messageArrived")
    _, history = await tutor_socket.join(room)
    assert [m["content"]["body"] for m in history["messages"]] == list(reversed(bodies))
    await hub.quiet()


async def test_a_send_right_after_join_without_waiting_is_accepted(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(student)

    await socket.emit("hub:join", {"roomId": room})
    ack = await socket.send(room, "eager")

    assert ack["success"] is True
    assert socket.names()[:2] == ["hub:joined", "hub:history"]
    await socket.next("hub:joined")
    await socket.next("hub:history")
    await socket.next("hub:messageArrived")
    await hub.quiet()


@pytest.fixture
async def refusing_database(settings: Any) -> AsyncIterator[None]:
    """The database refuses to keep any message whose body is "explode".

    On PostgreSQL the refusal comes at COMMIT (a deferred constraint trigger), after the send
    path has queued its broadcast; on SQLite, which has no deferred triggers, when the send path
    updates the conversation, after the message row was written.
    """
    engine = create_async_engine(settings.database_url)
    if settings.is_sqlite:
        create = [
            "CREATE TRIGGER refuse_explode BEFORE UPDATE ON conversation "
            "WHEN NEW.last_message_preview = 'explode' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        ]
        drop = ["DROP TRIGGER IF EXISTS refuse_explode"]
    else:
        create = [
            "CREATE OR REPLACE FUNCTION refuse_explode() RETURNS trigger AS $$ BEGIN "
            "IF NEW.content->>'body' = 'explode' THEN RAISE EXCEPTION 'refused'; END IF; "
            "RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE CONSTRAINT TRIGGER refuse_explode AFTER INSERT ON chat_message "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_explode()",
        ]
        drop = [
            "DROP TRIGGER IF EXISTS refuse_explode ON chat_message",
            "DROP FUNCTION IF EXISTS refuse_explode()",
        ]
    try:
        async with engine.begin() as conn:
            for statement in create:
                await conn.execute(text(statement))
        yield
    finally:
        async with engine.begin() as conn:
            for statement in drop:
                await conn.execute(text(statement))
        await engine.dispose()


async def test_a_send_that_fails_to_store_announces_nothing(
    app: Any, hub: Sockets, student: User, tutor: User, refusing_database: None
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)

    ack = await student_socket.send(room, "explode")

    assert ack["success"] is False
    assert ack["code"] == "INTERNAL"
    assert "refused" not in ack["error"]
    assert "reference" in ack["error"]
    await student_socket.error("INTERNAL")
    assert await message_count(app, room) == 0
    await hub.quiet()  # no hub:messageArrived anywhere

    assert (await student_socket.send(room, "fine"))["success"] is True
    await student_socket.next("hub:messageArrived")
    await tutor_socket.next("hub:messageArrived")
    await hub.quiet()


async def test_messages_of_other_types_are_delivered_with_their_content(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    contents = {
        "image": {"mediaUrl": "https://cdn.example.test/a.png", "width": 10, "height": 20},
        "document": {"mediaUrl": "https://cdn.example.test/a.pdf", "fileName": "notes.pdf"},
        "system": {"systemAction": "lessonScheduled", "systemData": {"at": "2026-01-01"}},
    }

    for message_type, content in contents.items():
        ack = await student_socket.call(
            "hub:send", {"roomId": room, "messageType": message_type, "content": content}
        )
        assert ack["success"] is True, ack
        arrived = await tutor_socket.next("hub:messageArrived")
        assert arrived["message"]["messageType"] == message_type
        assert arrived["message"]["content"] == content
        await student_socket.next("hub:messageArrived")
    await hub.quiet()


async def test_concurrent_senders_each_get_their_own_ack(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)

    acks = await asyncio.gather(
        student_socket.send(room, "from the student"), tutor_socket.send(room, "from the tutor")
    )

    assert [a["message"]["senderId"] for a in acks] == [student.id, tutor.id]
    for socket in (student_socket, tutor_socket):
        ids = {(await socket.next("hub:messageArrived"))["message"]["id"] for _ in range(2)}
        assert ids == {a["message"]["id"] for a in acks}
    await hub.quiet()


async def test_a_system_message_reaches_the_student_joined_to_the_admin_student_room_live(
    app: Any, hub: Sockets, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    body = {"targetUserId": student.id, "targetUserRole": "student", "messageContent": "First warning"}
    created = await client.post("/v1/sendsystemmessage", json=body, headers=service_headers())
    assert created.status_code == 201, created.text
    room = created.json()["conversation"]["id"]
    student_socket = await hub.connect(student)
    tutor_socket = await hub.connect(tutor)  # not in that room: hears nothing
    joined, history = await student_socket.join(room)
    assert joined["hubRole"] == "viewer"
    assert [m["content"]["body"] for m in history["messages"]] == ["First warning"]

    again = {**body, "messageContent": "Please update your profile", "severity": "critical"}
    response = await client.post("/v1/sendsystemmessage", json=again, headers=service_headers())
    assert response.status_code == 201, response.text

    arrived = await student_socket.next("hub:messageArrived")
    assert arrived["roomId"] == room
    assert arrived["message"]["messageType"] == "warning"
    assert arrived["message"]["content"]["body"] == "Please update your profile"
    assert arrived["message"]["content"]["severity"] == "critical"
    assert arrived["sender"]["id"] == app.context.settings.system_admin_id
    assert tutor_socket.pending() == []
    await hub.quiet()


async def test_a_super_admin_may_send_in_a_room_they_do_not_take_part_in(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    admin_socket = await hub.connect(super_admin)
    joined, _ = await admin_socket.join(room)
    assert joined["hubRole"] == "system"
    for socket in (student_socket, tutor_socket):
        presence = await socket.next("hub:presence")
        assert presence["user"]["hubRole"] == "system"
        await socket.next("hub:online")

    ack = await admin_socket.send(room, "This is the platform team")

    assert ack["success"] is True
    for socket in (student_socket, tutor_socket, admin_socket):
        assert (await socket.next("hub:messageArrived"))["sender"]["id"] == super_admin.id
    await hub.quiet()


async def _change_room(app: Any, room: str, **values: Any) -> None:
    async with app.context.db.unit_of_work() as uow:
        await uow.session.execute(update(Conversation).where(Conversation.id == room).values(**values))


async def test_a_room_closed_since_joining_refuses_sends_and_events(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, _ = await hub.joined_pair(app, student, tutor)
    await _change_room(app, room, status="closed")

    assert (await student_socket.send(room, "still open?"))["code"] == "ROOM_NOT_ELIGIBLE"
    await student_socket.error("ROOM_NOT_ELIGIBLE")
    await student_socket.emit("hub:event", {"roomId": room, "event": "typing"})
    await student_socket.error("ROOM_NOT_ELIGIBLE")
    assert await message_count(app, room) == 0
    await hub.quiet()


async def test_a_room_deleted_since_joining_is_not_found(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, _ = await hub.joined_pair(app, student, tutor)
    await _change_room(app, room, is_active=False)

    assert (await student_socket.send(room, "hello?"))["code"] == "ROOM_NOT_FOUND"
    await student_socket.error("ROOM_NOT_FOUND")
    await hub.quiet()


async def test_a_client_message_id_reused_for_other_content_is_refused(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    first = await student_socket.send(room, "the original", clientMessageId="c-2")
    await tutor_socket.next("hub:messageArrived")
    await student_socket.next("hub:messageArrived")

    reused = await student_socket.send(room, "something else", clientMessageId="c-2")

    assert reused["success"] is False
    assert reused["code"] == "INVALID_PAYLOAD"
    assert "clientMessageId" in reused["error"]
    assert "message" not in reused
    await student_socket.error("INVALID_PAYLOAD")
    assert (await student_socket.send(room, "the original", clientMessageId="c-2")) == first
    assert await message_count(app, room) == 1
    await hub.quiet()


async def test_a_client_message_id_of_a_deleted_message_is_refused(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    first = await student_socket.send(room, "soon gone", clientMessageId="c-3")
    deleted = await client.delete(f"/chat/{room}/messages/{first['message']['id']}", headers=student.headers)
    assert deleted.status_code == 200

    again = await student_socket.send(room, "soon gone", clientMessageId="c-3")

    assert again["success"] is False
    assert again["code"] == "INVALID_PAYLOAD"
    assert "deleted" in again["error"]
    await student_socket.error("INVALID_PAYLOAD")
    for socket in (student_socket, tutor_socket):
        await socket.next("hub:messageArrived")
        await socket.next("hub:messageDeleted")
    assert await message_count(app, room) == 0
    await hub.quiet()


async def test_http_and_https_media_urls_are_accepted(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    content = {"mediaUrl": "HTTP://cdn.x.test:8080/a.png?s=1#f", "thumbnail": "https://x.test/t.png"}

    ack = await student_socket.call("hub:send", {"roomId": room, "messageType": "image", "content": content})

    assert ack["success"] is True, ack
    assert ack["message"]["content"] == content
    for socket in (student_socket, tutor_socket):
        await socket.next("hub:messageArrived")
    await hub.quiet()
