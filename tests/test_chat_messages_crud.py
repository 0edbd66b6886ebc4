"""``GET``, ``PATCH`` and ``DELETE /v1/v1/chat-messages/{id}`` (and the alias routes)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support.chat_rooms import assert_envelope_error, block, conversation_row, create_room, store_text
from tests.support.users import User, service_headers
from tutorhub_messaging.db.models import ChatMessage
from tutorhub_messaging.messages.repository import MessageRepository

BASE = "/v1/v1/chat-messages"


@pytest.fixture
async def room(app: Any, student: User, tutor: User) -> str:
    return await create_room(app, student, tutor)


@pytest.fixture
async def message(app: Any, room: str, student: User) -> dict[str, Any]:
    return await store_text(app, room, student, "original text")


def url(message_id: str) -> str:
    return f"{BASE}/{message_id}"


# --- GET --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["student", "tutor", "admin", "super_admin"])
async def test_participants_and_admins_get_a_message(
    request: pytest.FixtureRequest, client: httpx.AsyncClient, message: dict[str, Any], who: str
) -> None:
    caller: User = request.getfixturevalue(who)
    response = await client.get(url(message["id"]), headers=caller.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["dataName"] == "chatMessage"
    assert body["action"] == "get"
    assert body["rowCount"] == 1
    assert body["chatMessage"] == message


async def test_the_alias_route_gets_the_same_message(
    client: httpx.AsyncClient, message: dict[str, Any], student: User
) -> None:
    response = await client.get(f"/v1/chat-messages/{message['id']}", headers=student.headers)
    assert response.json()["chatMessage"] == message


async def test_a_stranger_cannot_get_a_message(
    client: httpx.AsyncClient, message: dict[str, Any], stranger: User
) -> None:
    response = await client.get(url(message["id"]), headers=stranger.headers)
    assert_envelope_error(response, 403, "errMsg_forbidden")
    assert "original text" not in response.text


async def test_a_blocked_participant_cannot_get_a_message(
    app: Any, client: httpx.AsyncClient, room: str, message: dict[str, Any], student: User, super_admin: User
) -> None:
    await block(app, room, student, super_admin)
    assert_envelope_error(
        await client.get(url(message["id"]), headers=student.headers), 403, "errMsg_blocked"
    )


async def test_a_missing_message_is_not_found(client: httpx.AsyncClient, student: User) -> None:
    response = await client.get(url(str(uuid.uuid4())), headers=student.headers)
    assert_envelope_error(response, 404, "errMsg_chatMessageNotFound")


@pytest.mark.parametrize("bad_id", ["abc", "1" * 500, "null", "%27"])
async def test_an_id_that_is_not_a_uuid_is_invalid(
    client: httpx.AsyncClient, student: User, bad_id: str
) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        body = {"content": {"body": "x"}} if method == "PATCH" else None
        response = await client.request(method, url(bad_id), headers=student.headers, json=body)
        assert_envelope_error(response, 400, "errMsg_idisNotAValidID")


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_message_routes_need_a_valid_user_token(
    client: httpx.AsyncClient, message: dict[str, Any], method: str
) -> None:
    body = {"content": {"body": "x"}} if method == "PATCH" else None
    target = url(message["id"])
    assert_envelope_error(await client.request(method, target, json=body), 401)
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJ1c2VySWQiOiJ4In0."}
    assert_envelope_error(await client.request(method, target, json=body, headers=forged), 401)
    assert_envelope_error(await client.request(method, target, json=body, headers=service_headers()), 403)


# --- PATCH ------------------------------------------------------------------------------------


async def test_the_sender_edits_the_content(
    client: httpx.AsyncClient, message: dict[str, Any], student: User
) -> None:
    response = await client.patch(
        url(message["id"]), headers=student.headers, json={"content": {"body": "fixed"}}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["action"] == "update"
    edited = body["chatMessage"]
    assert edited["content"] == {"body": "fixed"}
    assert edited["recordVersion"] == 1
    assert edited["updatedAt"] >= message["updatedAt"]
    assert edited["timestamp"] == message["timestamp"]
    again = await client.get(url(message["id"]), headers=student.headers)
    assert again.json()["chatMessage"] == edited


async def test_each_edit_bumps_the_record_version(
    client: httpx.AsyncClient, message: dict[str, Any], student: User
) -> None:
    for version, text in enumerate(["a", "b", "c"], start=1):
        response = await client.patch(
            url(message["id"]), headers=student.headers, json={"content": {"body": text}}
        )
        assert response.json()["chatMessage"]["recordVersion"] == version


async def test_editing_the_newest_message_updates_the_inbox_preview(
    app: Any, client: httpx.AsyncClient, room: str, message: dict[str, Any], student: User
) -> None:
    await client.patch(
        url(message["id"]), headers=student.headers, json={"content": {"body": "better words"}}
    )
    assert (await conversation_row(app, room)).last_message_preview == "better words"


async def test_editing_an_older_message_leaves_the_inbox_preview(
    app: Any, client: httpx.AsyncClient, room: str, message: dict[str, Any], student: User, tutor: User
) -> None:
    await store_text(app, room, tutor, "latest reply")
    await client.patch(url(message["id"]), headers=student.headers, json={"content": {"body": "edited old"}})
    assert (await conversation_row(app, room)).last_message_preview == "latest reply"


async def test_content_is_checked_against_the_message_type(
    app: Any, client: httpx.AsyncClient, room: str, tutor: User
) -> None:
    image = await store_text(
        app, room, tutor, message_type="image", content={"mediaUrl": "https://x.test/a.png"}
    )
    wrong = await client.patch(
        url(image["id"]), headers=tutor.headers, json={"content": {"body": "text now"}}
    )
    assert_envelope_error(wrong, 400, "errMsg_contentIsNotValid")
    right = await client.patch(
        url(image["id"]),
        headers=tutor.headers,
        json={"content": {"mediaUrl": "https://x.test/b.png", "width": 10}},
    )
    assert right.json()["chatMessage"]["content"] == {"mediaUrl": "https://x.test/b.png", "width": 10}
    for unsafe in ("javascript:alert(1)", "data:image/png;base64,AAAA", "b.png"):
        refused = await client.patch(
            url(image["id"]), headers=tutor.headers, json={"content": {"mediaUrl": unsafe}}
        )
        assert_envelope_error(refused, 400, "errMsg_contentIsNotValid")


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({}, "errMsg_nothingToUpdate"),
        ({"content": None, "status": None}, "errMsg_nothingToUpdate"),
        ({"unknown": 1}, "errMsg_nothingToUpdate"),
        ({"content": "text"}, "errMsg_contentisNotValid"),
        ({"content": ["body"]}, "errMsg_contentisNotValid"),
        ({"content": {}}, "errMsg_contentIsNotValid"),
        ({"content": {"body": ""}}, "errMsg_contentIsNotValid"),
        ({"content": {"body": 12}}, "errMsg_contentIsNotValid"),
        ({"status": "deleted"}, "errMsg_statusisNotValid"),
        ({"status": 3}, "errMsg_statusisNotValid"),
        ([1, 2], "errMsg_invalidBody"),
        ("content", "errMsg_invalidBody"),
    ],
)
async def test_bad_updates_are_invalid_and_change_nothing(
    app: Any, client: httpx.AsyncClient, message: dict[str, Any], admin: User, body: Any, key: str
) -> None:
    response = await client.patch(url(message["id"]), headers=admin.headers, json=body)
    assert_envelope_error(response, 400, key)
    after = await client.get(url(message["id"]), headers=admin.headers)
    assert after.json()["chatMessage"] == message


@pytest.mark.parametrize(
    "raw",
    [
        b'{"content": {"body": "a\\u0000"}}',
        b'{"content": {"body": "\\udfff"}}',
        b'{"content": {"body": "x", "n": 100000000000000000000000000000}}',
    ],
)
async def test_content_no_database_could_store_is_invalid(
    client: httpx.AsyncClient, message: dict[str, Any], student: User, raw: bytes
) -> None:
    response = await client.patch(
        url(message["id"]), headers={**student.headers, "content-type": "application/json"}, content=raw
    )
    assert_envelope_error(response, 400, "errMsg_contentIsNotValid")
    assert (await client.get(url(message["id"]), headers=student.headers)).json()["chatMessage"] == message


async def test_garbage_json_is_invalid(
    client: httpx.AsyncClient, message: dict[str, Any], student: User
) -> None:
    response = await client.patch(
        url(message["id"]), headers={**student.headers, "content-type": "application/json"}, content=b"{nope"
    )
    assert_envelope_error(response, 400, "errMsg_invalidJson")


async def test_oversized_content_is_too_large(
    client: httpx.AsyncClient, message: dict[str, Any], student: User
) -> None:
    response = await client.patch(
        url(message["id"]), headers=student.headers, json={"content": {"body": "x" * 70_000}}
    )
    assert_envelope_error(response, 413, "errMsg_messageTooLarge")


async def test_the_other_participant_cannot_edit(
    client: httpx.AsyncClient, message: dict[str, Any], tutor: User
) -> None:
    response = await client.patch(
        url(message["id"]), headers=tutor.headers, json={"content": {"body": "mine now"}}
    )
    assert_envelope_error(response, 403, "errMsg_notMessageSender")


async def test_a_stranger_cannot_edit(
    client: httpx.AsyncClient, message: dict[str, Any], stranger: User
) -> None:
    response = await client.patch(
        url(message["id"]), headers=stranger.headers, json={"content": {"body": "x"}}
    )
    assert_envelope_error(response, 403)


async def test_a_sender_cannot_change_the_status(
    client: httpx.AsyncClient, message: dict[str, Any], student: User
) -> None:
    response = await client.patch(url(message["id"]), headers=student.headers, json={"status": "approved"})
    assert_envelope_error(response, 403, "errMsg_statusChangeNotAllowed")


@pytest.mark.parametrize("who", ["admin", "super_admin"])
async def test_admins_change_status_and_edit_any_message(
    request: pytest.FixtureRequest, client: httpx.AsyncClient, message: dict[str, Any], who: str
) -> None:
    caller: User = request.getfixturevalue(who)
    response = await client.patch(
        url(message["id"]),
        headers=caller.headers,
        json={"status": "rejected", "content": {"body": "[removed]"}},
    )
    assert response.status_code == 200, response.text
    edited = response.json()["chatMessage"]
    assert edited["status"] == "rejected"
    assert edited["status_idx"] == 2
    assert edited["content"] == {"body": "[removed]"}
    assert edited["recordVersion"] == 1


async def test_a_silenced_sender_cannot_edit(
    app: Any, client: httpx.AsyncClient, room: str, message: dict[str, Any], student: User, super_admin: User
) -> None:
    await block(app, room, student, super_admin, action="silenced")
    response = await client.patch(
        url(message["id"]), headers=student.headers, json={"content": {"body": "x"}}
    )
    assert_envelope_error(response, 403, "errMsg_silenced")


async def test_a_blocked_sender_cannot_edit(
    app: Any, client: httpx.AsyncClient, room: str, message: dict[str, Any], student: User, super_admin: User
) -> None:
    await block(app, room, student, super_admin)
    response = await client.patch(
        url(message["id"]), headers=student.headers, json={"content": {"body": "x"}}
    )
    assert_envelope_error(response, 403, "errMsg_blocked")


async def test_editing_a_deleted_message_is_not_found(
    client: httpx.AsyncClient, message: dict[str, Any], student: User
) -> None:
    await client.delete(url(message["id"]), headers=student.headers)
    response = await client.patch(
        url(message["id"]), headers=student.headers, json={"content": {"body": "x"}}
    )
    assert_envelope_error(response, 404, "errMsg_chatMessageNotFound")


# --- DELETE -----------------------------------------------------------------------------------


async def test_the_sender_deletes_softly_and_gets_the_inactive_record(
    app: Any, client: httpx.AsyncClient, message: dict[str, Any], student: User
) -> None:
    response = await client.delete(url(message["id"]), headers=student.headers)

    assert response.status_code == 200
    body = response.json()
    assert body["action"] == "delete"
    assert body["chatMessage"]["id"] == message["id"]
    assert body["chatMessage"]["isActive"] is False
    assert body["chatMessage"]["recordVersion"] == 1
    assert_envelope_error(await client.get(url(message["id"]), headers=student.headers), 404)
    # soft: the row is kept, only deactivated
    async with app.context.db.unit_of_work() as uow:
        row = await uow.session.scalar(select(ChatMessage).where(ChatMessage.id == message["id"]))
    assert row is not None
    assert row.is_active is False
    assert row.content == {"body": "original text"}


@pytest.mark.parametrize("who", ["admin", "super_admin"])
async def test_admins_delete_any_message(
    request: pytest.FixtureRequest, client: httpx.AsyncClient, message: dict[str, Any], who: str
) -> None:
    caller: User = request.getfixturevalue(who)
    response = await client.delete(url(message["id"]), headers=caller.headers)
    assert response.status_code == 200
    assert response.json()["chatMessage"]["isActive"] is False


async def test_the_other_participant_cannot_delete(
    client: httpx.AsyncClient, message: dict[str, Any], student: User, tutor: User
) -> None:
    assert_envelope_error(await client.delete(url(message["id"]), headers=tutor.headers), 403)
    assert (await client.get(url(message["id"]), headers=student.headers)).status_code == 200


async def test_a_stranger_cannot_delete(
    client: httpx.AsyncClient, message: dict[str, Any], student: User, stranger: User
) -> None:
    assert_envelope_error(await client.delete(url(message["id"]), headers=stranger.headers), 403)
    assert (await client.get(url(message["id"]), headers=student.headers)).status_code == 200


async def test_deleting_twice_is_not_found(
    client: httpx.AsyncClient, message: dict[str, Any], student: User
) -> None:
    assert (await client.delete(url(message["id"]), headers=student.headers)).status_code == 200
    assert_envelope_error(await client.delete(url(message["id"]), headers=student.headers), 404)


async def test_deleting_the_newest_recomputes_the_inbox_and_unread_counts(
    app: Any, client: httpx.AsyncClient, room: str, student: User, tutor: User
) -> None:
    first = await store_text(app, room, tutor, "first")
    newest = await store_text(app, room, tutor, "second")
    async with app.context.db.unit_of_work() as uow:
        before = await MessageRepository(uow.session).unread_counts_for(student.id, [room])
    assert before == {room: 2}

    assert (await client.delete(url(newest["id"]), headers=tutor.headers)).status_code == 200

    row = await conversation_row(app, room)
    assert row.last_message_preview == "first"
    assert row.last_message_at is not None
    async with app.context.db.unit_of_work() as uow:
        after = await MessageRepository(uow.session).unread_counts_for(student.id, [room])
    assert after == {room: 1}
    history = await client.get(f"/chat/{room}/messages", headers=student.headers)
    assert [m["id"] for m in history.json()["data"]] == [first["id"]]
