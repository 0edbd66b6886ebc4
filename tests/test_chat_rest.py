"""The hub's REST routes: history, eligibility and deletion (``/chat/{roomId}/...``)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jwt
import pytest

from tests.support.chat_rooms import assert_hub_error, block, conversation_row, create_room, store_text
from tests.support.users import User, service_headers


@pytest.fixture
async def room(app: Any, student: User, tutor: User) -> str:
    return await create_room(app, student, tutor)


async def history(client: httpx.AsyncClient, user: User, room_id: str, **params: Any) -> httpx.Response:
    return await client.get(f"/chat/{room_id}/messages", headers=user.headers, params=params)


# --- GET /chat/{roomId}/messages ----------------------------------------------------------


async def test_history_is_newest_first_with_sender_name_and_avatar(
    app: Any, client: httpx.AsyncClient, room: str, student: User, tutor: User
) -> None:
    first = await store_text(app, room, student, "one")
    second = await store_text(app, room, tutor, "two")
    third = await store_text(app, room, student, "three")

    response = await history(client, tutor, room)

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert [m["id"] for m in body["data"]] == [third["id"], second["id"], first["id"]]
    assert body["pagination"] == {"limit": 50, "offset": 0, "total": 3}
    newest = body["data"][0]
    assert newest["senderName"] == student.fullname
    assert newest["senderAvatar"] == student.avatar
    assert newest["content"] == {"body": "three"}
    assert newest["roomId"] == room


async def test_history_pages_with_limit_and_offset(
    app: Any, client: httpx.AsyncClient, room: str, student: User
) -> None:
    ids = [(await store_text(app, room, student, f"m{i}"))["id"] for i in range(5)]

    response = await history(client, student, room, limit=2, offset=2)

    body = response.json()
    assert [m["id"] for m in body["data"]] == [ids[2], ids[1]]
    assert body["pagination"] == {"limit": 2, "offset": 2, "total": 5}


async def test_history_offset_past_the_end_is_an_empty_page(
    app: Any, client: httpx.AsyncClient, room: str, student: User
) -> None:
    await store_text(app, room, student)
    body = (await history(client, student, room, offset=10)).json()
    assert body["data"] == []
    assert body["pagination"]["total"] == 1


async def test_history_after_a_message_is_the_newer_ones_oldest_first(
    app: Any, client: httpx.AsyncClient, room: str, student: User, tutor: User
) -> None:
    ids = [(await store_text(app, room, student, f"m{i}"))["id"] for i in range(4)]

    response = await history(client, tutor, room, after=ids[1])

    body = response.json()
    assert response.status_code == 200
    assert [m["id"] for m in body["data"]] == [ids[2], ids[3]]
    assert body["pagination"]["total"] == 2


async def test_history_after_a_deleted_message_still_resumes_after_it(
    app: Any, client: httpx.AsyncClient, room: str, student: User
) -> None:
    ids = [(await store_text(app, room, student, f"m{i}"))["id"] for i in range(3)]
    deleted = await client.delete(f"/chat/{room}/messages/{ids[1]}", headers=student.headers)
    assert deleted.status_code == 200

    body = (await history(client, student, room, after=ids[1])).json()

    assert [m["id"] for m in body["data"]] == [ids[2]]


async def test_history_after_a_message_of_another_room_is_invalid(
    app: Any, client: httpx.AsyncClient, room: str, student: User, tutor: User
) -> None:
    other_room = await create_room(app, student, User("tutor"))
    elsewhere = await store_text(app, other_room, student)

    response = await history(client, student, room, after=elsewhere["id"])

    assert_hub_error(response, 400, "INVALID_PAYLOAD")


@pytest.mark.parametrize("after", ["not-a-uuid", "", "x" * 64])
async def test_history_after_that_is_not_an_id_is_invalid(
    client: httpx.AsyncClient, room: str, student: User, after: str
) -> None:
    assert_hub_error(await history(client, student, room, after=after), 400, "INVALID_PAYLOAD")


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": -1},
        {"limit": "abc"},
        {"limit": "1.5"},
        {"limit": "9" * 40},
        {"offset": -1},
        {"offset": "x"},
        {"offset": "9" * 40},
        {"after": "a" * 10_000},
    ],
)
async def test_history_bad_paging_numbers_are_invalid_payload(
    client: httpx.AsyncClient, room: str, student: User, params: dict[str, Any]
) -> None:
    assert_hub_error(await history(client, student, room, **params), 400, "INVALID_PAYLOAD")


async def test_history_never_shows_deleted_messages(
    app: Any, client: httpx.AsyncClient, room: str, student: User
) -> None:
    kept = await store_text(app, room, student, "kept")
    gone = await store_text(app, room, student, "gone")
    await client.delete(f"/chat/{room}/messages/{gone['id']}", headers=student.headers)

    body = (await history(client, student, room)).json()

    assert [m["id"] for m in body["data"]] == [kept["id"]]
    assert body["pagination"]["total"] == 1


async def test_history_of_a_closed_room_stays_readable_for_its_participants(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    closed = await create_room(app, student, tutor, status="closed")
    message = await store_text(app, closed, tutor, "before closing")

    response = await history(client, student, closed)

    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == [message["id"]]


async def test_history_is_readable_by_a_viewer(
    app: Any, client: httpx.AsyncClient, admin: User, student: User
) -> None:
    notices = await create_room(app, admin, student, conversation_type="adminStudent")
    warning = await store_text(
        app, notices, admin, message_type="warning", content={"body": "Be kind", "severity": "warning"}
    )

    response = await history(client, student, notices)

    assert [m["id"] for m in response.json()["data"]] == [warning["id"]]


async def test_history_is_readable_by_a_super_admin_outside_the_room(
    app: Any, client: httpx.AsyncClient, room: str, student: User, super_admin: User
) -> None:
    await store_text(app, room, student)
    response = await history(client, super_admin, room)
    assert response.status_code == 200
    assert response.json()["pagination"]["total"] == 1


async def test_history_is_refused_to_a_stranger_without_revealing_anything(
    app: Any, client: httpx.AsyncClient, room: str, student: User, stranger: User
) -> None:
    await store_text(app, room, student, "private")
    response = await history(client, stranger, room)
    body = assert_hub_error(response, 403, "NOT_AUTHORIZED")
    assert "private" not in response.text
    assert room not in body["error"]


async def test_history_is_refused_to_an_admin_who_is_not_in_the_room(
    client: httpx.AsyncClient, room: str, admin: User
) -> None:
    # Over the hub routes an admin has no absolute role; only superAdmin does.
    assert_hub_error(await history(client, admin, room), 403, "NOT_AUTHORIZED")


async def test_history_is_refused_to_a_blocked_participant(
    app: Any, client: httpx.AsyncClient, room: str, student: User, super_admin: User
) -> None:
    await block(app, room, student, super_admin)
    assert_hub_error(await history(client, student, room), 403, "BLOCKED")


async def test_history_of_a_missing_room_is_room_not_found(client: httpx.AsyncClient, student: User) -> None:
    assert_hub_error(await history(client, student, str(uuid.uuid4())), 404, "ROOM_NOT_FOUND")


async def test_history_of_a_room_id_that_is_not_a_uuid_is_invalid(
    client: httpx.AsyncClient, student: User
) -> None:
    assert_hub_error(await history(client, student, "room-abc-123"), 400, "INVALID_PAYLOAD")


async def test_history_answers_under_the_messaging_api_prefix_with_hub_bodies(
    app: Any, client: httpx.AsyncClient, room: str, student: User, stranger: User
) -> None:
    await store_text(app, room, student)
    ok = await client.get(f"/messaging-api/chat/{room}/messages", headers=student.headers)
    assert ok.status_code == 200
    assert ok.json()["pagination"]["total"] == 1
    refused = await client.get(f"/messaging-api/chat/{room}/messages", headers=stranger.headers)
    assert_hub_error(refused, 403, "NOT_AUTHORIZED")


# --- who may call at all ---------------------------------------------------------------------


def forged_token(user: User) -> str:
    return jwt.encode(
        {"userId": user.id, "roleId": "superAdmin"},
        "a-different-secret-of-sufficient-length-0123456789",
        algorithm="HS256",
    )


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("GET", "/messages"), ("POST", "/messages"), ("GET", "/eligible"), ("DELETE", "/messages/{id}")],
)
async def test_hub_routes_refuse_missing_forged_and_service_tokens(
    client: httpx.AsyncClient, room: str, student: User, method: str, suffix: str
) -> None:
    url = f"/chat/{room}" + suffix.format(id=uuid.uuid4())
    body = {"data": {"body": "hi"}} if method == "POST" else None

    missing = await client.request(method, url, json=body)
    assert_hub_error(missing, 401, "UNAUTHENTICATED")

    forged = await client.request(
        method, url, json=body, headers={"Authorization": f"Bearer {forged_token(student)}"}
    )
    assert_hub_error(forged, 401, "UNAUTHENTICATED")

    garbage = await client.request(method, url, json=body, headers={"Authorization": "Bearer x.y.z"})
    assert_hub_error(garbage, 401, "UNAUTHENTICATED")

    service = await client.request(method, url, json=body, headers=service_headers())
    assert_hub_error(service, 403, "NOT_AUTHORIZED")


# --- GET /chat/{roomId}/eligible -----------------------------------------------------------


async def test_an_active_room_is_eligible(client: httpx.AsyncClient, room: str, student: User) -> None:
    response = await client.get(f"/chat/{room}/eligible", headers=student.headers)
    assert response.status_code == 200
    assert response.json() == {"success": True, "eligible": True}


async def test_a_closed_room_is_not_eligible(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    closed = await create_room(app, student, tutor, status="closed")
    response = await client.get(f"/chat/{closed}/eligible", headers=tutor.headers)
    assert response.json() == {"success": True, "eligible": False}


async def test_eligibility_is_answered_to_a_super_admin(
    client: httpx.AsyncClient, room: str, super_admin: User
) -> None:
    response = await client.get(f"/chat/{room}/eligible", headers=super_admin.headers)
    assert response.json() == {"success": True, "eligible": True}


async def test_eligibility_is_refused_to_a_stranger(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User, stranger: User
) -> None:
    closed = await create_room(app, student, tutor, status="closed")
    response = await client.get(f"/chat/{closed}/eligible", headers=stranger.headers)
    assert_hub_error(response, 403, "NOT_AUTHORIZED")
    assert "eligible" not in response.json()


async def test_eligibility_of_a_missing_room_is_room_not_found(
    client: httpx.AsyncClient, student: User
) -> None:
    response = await client.get(f"/chat/{uuid.uuid4()}/eligible", headers=student.headers)
    assert_hub_error(response, 404, "ROOM_NOT_FOUND")


async def test_eligibility_of_a_garbage_room_id_is_invalid(client: httpx.AsyncClient, student: User) -> None:
    response = await client.get("/chat/%00%27;drop/eligible", headers=student.headers)
    assert_hub_error(response, 400, "INVALID_PAYLOAD")


# --- DELETE /chat/{roomId}/messages/{messageId} --------------------------------------------


async def test_a_sender_deletes_their_own_message(
    app: Any, client: httpx.AsyncClient, room: str, student: User
) -> None:
    message = await store_text(app, room, student)

    response = await client.delete(f"/chat/{room}/messages/{message['id']}", headers=student.headers)

    assert response.status_code == 200
    assert response.json() == {"success": True, "messageId": message["id"]}
    assert (await history(client, student, room)).json()["data"] == []


async def test_deleting_the_newest_message_moves_the_inbox_preview_back(
    app: Any, client: httpx.AsyncClient, room: str, student: User, tutor: User
) -> None:
    older = await store_text(app, room, tutor, "older one")
    newest = await store_text(app, room, student, "newest one")

    await client.delete(f"/chat/{room}/messages/{newest['id']}", headers=student.headers)

    row = await conversation_row(app, room)
    assert row.last_message_preview == "older one"
    assert row.last_message_at is not None
    assert row.last_message_at.isoformat(timespec="milliseconds").startswith(older["timestamp"][:23])


async def test_deleting_the_only_message_empties_the_inbox_preview(
    app: Any, client: httpx.AsyncClient, room: str, student: User
) -> None:
    only = await store_text(app, room, student, "only")
    await client.delete(f"/chat/{room}/messages/{only['id']}", headers=student.headers)
    row = await conversation_row(app, room)
    assert row.last_message_preview is None
    assert row.last_message_at is None


async def test_a_participant_cannot_delete_someone_elses_message(
    app: Any, client: httpx.AsyncClient, room: str, student: User, tutor: User
) -> None:
    message = await store_text(app, room, student)
    response = await client.delete(f"/chat/{room}/messages/{message['id']}", headers=tutor.headers)
    assert_hub_error(response, 403, "NOT_AUTHORIZED")
    assert len((await history(client, student, room)).json()["data"]) == 1


async def test_the_system_role_deletes_any_message(
    app: Any, client: httpx.AsyncClient, room: str, student: User, super_admin: User
) -> None:
    message = await store_text(app, room, student)
    response = await client.delete(f"/chat/{room}/messages/{message['id']}", headers=super_admin.headers)
    assert response.status_code == 200
    assert (await history(client, student, room)).json()["data"] == []


async def test_a_stranger_cannot_delete_and_learns_nothing(
    app: Any, client: httpx.AsyncClient, room: str, student: User, stranger: User
) -> None:
    message = await store_text(app, room, student)
    response = await client.delete(f"/chat/{room}/messages/{message['id']}", headers=stranger.headers)
    assert_hub_error(response, 403, "NOT_AUTHORIZED")
    assert len((await history(client, student, room)).json()["data"]) == 1


async def test_a_blocked_sender_cannot_delete_their_message(
    app: Any, client: httpx.AsyncClient, room: str, student: User, super_admin: User
) -> None:
    message = await store_text(app, room, student)
    await block(app, room, student, super_admin)
    response = await client.delete(f"/chat/{room}/messages/{message['id']}", headers=student.headers)
    assert_hub_error(response, 403, "BLOCKED")


async def test_deleting_a_message_through_another_room_is_not_found(
    app: Any, client: httpx.AsyncClient, room: str, student: User
) -> None:
    other_room = await create_room(app, student, User("tutor"))
    message = await store_text(app, other_room, student)
    response = await client.delete(f"/chat/{room}/messages/{message['id']}", headers=student.headers)
    assert_hub_error(response, 404, "NOT_FOUND")
    assert len((await history(client, student, other_room)).json()["data"]) == 1


async def test_deleting_twice_is_not_found_the_second_time(
    app: Any, client: httpx.AsyncClient, room: str, student: User
) -> None:
    message = await store_text(app, room, student)
    url = f"/chat/{room}/messages/{message['id']}"
    assert (await client.delete(url, headers=student.headers)).status_code == 200
    assert_hub_error(await client.delete(url, headers=student.headers), 404, "NOT_FOUND")


@pytest.mark.parametrize("message_id", ["nope", "1" * 300, "%20"])
async def test_deleting_a_message_id_that_is_not_a_uuid_is_invalid(
    client: httpx.AsyncClient, room: str, student: User, message_id: str
) -> None:
    response = await client.delete(f"/chat/{room}/messages/{message_id}", headers=student.headers)
    assert_hub_error(response, 400, "INVALID_PAYLOAD")


async def test_deleting_in_a_missing_room_is_room_not_found(client: httpx.AsyncClient, student: User) -> None:
    response = await client.delete(f"/chat/{uuid.uuid4()}/messages/{uuid.uuid4()}", headers=student.headers)
    assert_hub_error(response, 404, "ROOM_NOT_FOUND")
