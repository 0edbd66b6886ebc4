"""``POST /chat/{roomId}/messages``: the REST send, with the same rules and limits as ``hub:send``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.chat_rooms import assert_hub_error, block, conversation_row, create_room, store_text
from tests.support.users import User


@pytest.fixture
async def room(app: Any, student: User, tutor: User) -> str:
    return await create_room(app, student, tutor)


async def send(client: httpx.AsyncClient, user: User, room_id: str, body: Any) -> httpx.Response:
    return await client.post(f"/chat/{room_id}/messages", headers=user.headers, json=body)


async def history_ids(client: httpx.AsyncClient, user: User, room_id: str) -> list[str]:
    response = await client.get(f"/chat/{room_id}/messages", headers=user.headers)
    return [m["id"] for m in response.json()["data"]]


async def test_a_text_message_is_stored_and_returned_with_201(
    app: Any, client: httpx.AsyncClient, room: str, student: User
) -> None:
    response = await send(client, student, room, {"data": {"body": "Hello from REST"}})

    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    message = body["data"]
    assert body["message"] == message
    assert message["messageType"] == "text"
    assert message["messageType_idx"] == 0
    assert message["content"] == {"body": "Hello from REST"}
    assert message["senderId"] == student.id
    assert message["senderName"] == student.fullname
    assert message["senderAvatar"] == student.avatar
    assert message["status"] == "approved"
    assert message["isActive"] is True
    assert message["recordVersion"] == 0
    assert await history_ids(client, student, room) == [message["id"]]
    assert (await conversation_row(app, room)).last_message_preview == "Hello from REST"


async def test_a_typed_message_with_a_reply_stores_the_reply_preview(
    app: Any, client: httpx.AsyncClient, room: str, student: User, tutor: User
) -> None:
    original = await store_text(app, room, tutor, "Read chapter 3")

    by_id = await send(
        client,
        student,
        room,
        {
            "messageType": "document",
            "data": {"mediaUrl": "https://x.test/a.pdf", "fileName": "a.pdf"},
            "replyTo": original["id"],
        },
    )
    by_object = await send(
        client, student, room, {"data": {"body": "done"}, "replyTo": {"id": original["id"]}}
    )

    assert by_id.status_code == 201, by_id.text
    assert by_id.json()["data"]["messageType"] == "document"
    assert by_id.json()["data"]["replyTo"] == {"id": original["id"], "preview": "Read chapter 3"}
    assert by_object.json()["data"]["replyTo"] == {"id": original["id"], "preview": "Read chapter 3"}


async def test_a_client_message_id_retry_returns_the_stored_message_with_200(
    client: httpx.AsyncClient, room: str, student: User
) -> None:
    body = {"data": {"body": "once"}, "clientMessageId": "c-1"}

    first = await send(client, student, room, body)
    retry = await send(client, student, room, body)

    assert first.status_code == 201
    assert retry.status_code == 200
    assert retry.json()["data"]["id"] == first.json()["data"]["id"]
    assert await history_ids(client, student, room) == [first.json()["data"]["id"]]


async def test_unknown_body_fields_are_ignored(client: httpx.AsyncClient, room: str, student: User) -> None:
    response = await send(client, student, room, {"data": {"body": "hi", "extra": 1}, "colour": "red"})
    assert response.status_code == 201
    assert response.json()["data"]["content"] == {"body": "hi"}


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": None},
        {"data": "just a string"},
        {"data": ["body"]},
        {"data": {}},
        {"data": {"body": ""}},
        {"data": {"body": 5}},
        {"data": {"body": "hi"}, "messageType": 5},
        {"data": {"body": "hi"}, "messageType": "video"},
        {"data": {"body": "hi"}, "messageType": ""},
        {"data": {"body": "hi"}, "messageType": "image"},
        {"data": {"body": "hi"}, "clientMessageId": "x" * 65},
        {"data": {"body": "hi"}, "clientMessageId": 12},
        {"data": {"body": "hi"}, "replyTo": 12},
        {"data": {"body": "hi"}, "replyTo": "not-an-id"},
        {"data": {"body": "hi"}, "replyTo": {"id": "not-an-id"}},
        {"data": {"body": "hi"}, "replyTo": str(uuid.uuid4())},
        {"data": {"mediaUrl": 3}, "messageType": "image"},
        {"data": {"mediaUrl": "javascript:alert(1)"}, "messageType": "image"},
        {"data": {"mediaUrl": "data:image/png;base64,AAAA"}, "messageType": "image"},
        {"data": {"mediaUrl": "../a.png"}, "messageType": "image"},
        {"data": {"mediaUrl": "https://x.test/a.png", "thumbnail": "javascript:x"}, "messageType": "image"},
        {"data": {"mediaUrl": "javascript://x.test/%0aalert(1)", "fileName": "a"}, "messageType": "document"},
        {"data": {"body": "x", "severity": "extreme"}, "messageType": "warning"},
        [1, 2, 3],
        "text",
        None,
    ],
)
async def test_bad_bodies_are_invalid_payload_and_store_nothing(
    app: Any, client: httpx.AsyncClient, room: str, student: User, body: Any
) -> None:
    response = await send(client, student, room, body)
    assert_hub_error(response, 400, "INVALID_PAYLOAD")
    assert await history_ids(client, student, room) == []
    assert (await conversation_row(app, room)).last_message_at is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"data": {"body": "a\\u0000b"}}',
        b'{"data": {"body": "hi"}, "clientMessageId": "a\\u0000"}',
        b'{"data": {"body": "\\ud800"}}',
        b'{"data": {"body": "hi", "extra": 100000000000000000000000000000}}',
        b'{"messageType": "image", "data": {"mediaUrl": "https://x.test/a.png", "width": 1e400}}',
        b'{"messageType": "system", "data": {"systemAction": "x", "systemData": NaN}}',
        b'{"messageType": "system", "data": {"systemAction": "x", "systemData": {"\\u0000": 1}}}',
        b'{"messageType": "system", "data": {"systemAction": "x", "systemData": '
        + b"[" * 300
        + b"]" * 300
        + b"}}",
        b'{"messageType": "system", "data": {"systemAction": "x", "systemData": '
        + b"[" * 5000
        + b"]" * 5000
        + b"}}",
    ],
)
async def test_content_no_database_or_client_could_take_is_invalid_payload(
    app: Any, client: httpx.AsyncClient, room: str, super_admin: User, raw: bytes
) -> None:
    # NUL, lone surrogates, NaN, huge integers and deep nesting: refused alike on both databases.
    response = await client.post(
        f"/chat/{room}/messages",
        headers={**super_admin.headers, "content-type": "application/json"},
        content=raw,
    )
    assert_hub_error(response, 400, "INVALID_PAYLOAD")
    assert await history_ids(client, super_admin, room) == []


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b'{"data": {"body": "hi"'])
async def test_garbage_bodies_are_invalid_payload(
    client: httpx.AsyncClient, room: str, student: User, raw: bytes
) -> None:
    response = await client.post(
        f"/chat/{room}/messages",
        headers={**student.headers, "content-type": "application/json"},
        content=raw,
    )
    assert_hub_error(response, 400, "INVALID_PAYLOAD")


async def test_a_reply_to_a_message_of_another_room_is_invalid(
    app: Any, client: httpx.AsyncClient, room: str, student: User
) -> None:
    other_room = await create_room(app, student, User("tutor"))
    elsewhere = await store_text(app, other_room, student)
    response = await send(client, student, room, {"data": {"body": "hi"}, "replyTo": elsewhere["id"]})
    assert_hub_error(response, 400, "INVALID_PAYLOAD")


async def test_content_over_the_size_limit_is_message_too_large(
    client: httpx.AsyncClient, room: str, student: User
) -> None:
    response = await send(client, student, room, {"data": {"body": "x" * 70_000}})
    assert_hub_error(response, 413, "MESSAGE_TOO_LARGE")
    assert await history_ids(client, student, room) == []


async def test_a_body_over_the_request_limit_is_refused_before_parsing(
    client: httpx.AsyncClient, room: str, student: User
) -> None:
    response = await send(client, student, room, {"data": {"body": "x" * 1_100_000}})
    assert_hub_error(response, 413, "MESSAGE_TOO_LARGE")


async def test_a_viewer_cannot_send(app: Any, client: httpx.AsyncClient, admin: User, student: User) -> None:
    notices = await create_room(app, admin, student, conversation_type="adminStudent")
    response = await send(client, student, notices, {"data": {"body": "can I reply?"}})
    assert_hub_error(response, 403, "SEND_NOT_ALLOWED")
    assert await history_ids(client, student, notices) == []


async def test_the_admin_of_an_admin_student_channel_can_send_a_warning(
    app: Any, client: httpx.AsyncClient, admin: User, student: User
) -> None:
    notices = await create_room(app, admin, student, conversation_type="adminStudent")
    response = await send(
        client, admin, notices, {"messageType": "warning", "data": {"body": "Be on time", "severity": "info"}}
    )
    assert response.status_code == 201
    assert await history_ids(client, student, notices) == [response.json()["data"]["id"]]


async def test_sending_into_a_closed_room_is_not_eligible(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    closed = await create_room(app, student, tutor, status="closed")
    response = await send(client, student, closed, {"data": {"body": "hello?"}})
    assert_hub_error(response, 409, "ROOM_NOT_ELIGIBLE")


async def test_a_stranger_cannot_send(
    client: httpx.AsyncClient, room: str, student: User, stranger: User
) -> None:
    response = await send(client, stranger, room, {"data": {"body": "let me in"}})
    assert_hub_error(response, 403, "NOT_AUTHORIZED")
    assert await history_ids(client, student, room) == []


async def test_sending_to_a_missing_room_is_room_not_found(client: httpx.AsyncClient, student: User) -> None:
    response = await send(client, student, str(uuid.uuid4()), {"data": {"body": "anyone?"}})
    assert_hub_error(response, 404, "ROOM_NOT_FOUND")


async def test_a_silenced_participant_cannot_send(
    app: Any, client: httpx.AsyncClient, room: str, student: User, super_admin: User
) -> None:
    await block(app, room, student, super_admin, action="silenced")
    assert_hub_error(await send(client, student, room, {"data": {"body": "hm"}}), 403, "SILENCED")


async def test_a_blocked_participant_cannot_send(
    app: Any, client: httpx.AsyncClient, room: str, student: User, super_admin: User
) -> None:
    await block(app, room, student, super_admin)
    assert_hub_error(await send(client, student, room, {"data": {"body": "hm"}}), 403, "BLOCKED")


@pytest.mark.parametrize("settings_overrides", [{"message_rate_per_minute": 3}])
async def test_the_rate_limit_applies_to_rest_sends(
    client: httpx.AsyncClient, room: str, student: User
) -> None:
    for i in range(3):
        assert (await send(client, student, room, {"data": {"body": f"m{i}"}})).status_code == 201
    response = await send(client, student, room, {"data": {"body": "one too many"}})
    assert_hub_error(response, 429, "RATE_LIMITED")
    assert len(await history_ids(client, student, room)) == 3


@pytest.mark.parametrize("settings_overrides", [{"message_rate_per_minute": 2}])
async def test_rest_sends_count_against_the_limiter_the_hub_shares(
    app: Any, client: httpx.AsyncClient, room: str, student: User
) -> None:
    # Two messages "sent over the socket" spend the user's budget in the shared limiter...
    assert await app.context.rate_limiter.allow(student.id)
    assert await app.context.rate_limiter.allow(student.id)
    # ...so the REST route has nothing left.
    assert_hub_error(await send(client, student, room, {"data": {"body": "hi"}}), 429, "RATE_LIMITED")


@pytest.mark.parametrize("settings_overrides", [{"message_rate_per_minute": 1}])
async def test_refused_messages_do_not_spend_the_rate_limit(
    client: httpx.AsyncClient, room: str, student: User
) -> None:
    assert_hub_error(await send(client, student, room, {"data": {}}), 400, "INVALID_PAYLOAD")
    assert (await send(client, student, room, {"data": {"body": "fine"}})).status_code == 201


async def test_a_client_message_id_reused_for_other_content_is_409(
    client: httpx.AsyncClient, room: str, student: User
) -> None:
    first = await send(client, student, room, {"data": {"body": "once"}, "clientMessageId": "c-9"})
    for other in (
        {"data": {"body": "twice"}, "clientMessageId": "c-9"},
        {"data": {"body": "once"}, "clientMessageId": "c-9", "replyTo": first.json()["data"]["id"]},
        {"messageType": "image", "data": {"mediaUrl": "https://x.test/a.png"}, "clientMessageId": "c-9"},
    ):
        response = await send(client, student, room, other)
        body = assert_hub_error(response, 409, "INVALID_PAYLOAD")
        assert "clientMessageId" in body["error"]
    assert await history_ids(client, student, room) == [first.json()["data"]["id"]]


async def test_a_client_message_id_of_a_deleted_message_is_409(
    client: httpx.AsyncClient, room: str, student: User
) -> None:
    body = {"data": {"body": "once"}, "clientMessageId": "c-10"}
    first = await send(client, student, room, body)
    message_id = first.json()["data"]["id"]
    deleted = await client.delete(f"/chat/{room}/messages/{message_id}", headers=student.headers)
    assert deleted.status_code == 200

    again = await send(client, student, room, body)

    assert "deleted" in assert_hub_error(again, 409, "INVALID_PAYLOAD")["error"]
    assert await history_ids(client, student, room) == []


async def test_refusals_are_counted_in_the_metrics(
    client: httpx.AsyncClient, room: str, student: User
) -> None:
    def count(text: str) -> float:
        row = 'messaging_http_errors_total{code="INVALID_PAYLOAD",status="409"}'
        return next((float(line.split()[-1]) for line in text.splitlines() if line.startswith(row)), 0.0)

    before = count((await client.get("/metrics")).text)
    await send(client, student, room, {"data": {"body": "one"}, "clientMessageId": "c-11"})
    await send(client, student, room, {"data": {"body": "two"}, "clientMessageId": "c-11"})

    assert count((await client.get("/metrics")).text) == before + 1
