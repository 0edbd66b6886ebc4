"""PUT /v1/m2m/users/{userId}: the user service writes the directory (replacing values)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.conversations import assert_error
from tests.support.users import User, service_headers
from tutorhub_messaging.identity.directory import DirectoryEntry, DirectoryRepository
from tutorhub_messaging.identity.user_sync import DirectoryUserEnvelope


async def put_user(client: httpx.AsyncClient, user_id: str, body: Any) -> httpx.Response:
    return await client.put(f"/v1/m2m/users/{user_id}", headers=service_headers("users"), json=body)


async def directory_entry(app: Any, user_id: str) -> DirectoryEntry | None:
    async with app.context.db.unit_of_work() as uow:
        return await DirectoryRepository(uow.session).get(user_id)


async def test_a_new_user_is_created_with_201(app: Any, client: httpx.AsyncClient) -> None:
    user = User("tutor")
    body = {"fullname": "Ada Tutor", "avatar": "https://cdn.example.test/ada.png", "roleId": "tutor"}
    response = await put_user(client, user.id, body)
    assert response.status_code == 201
    envelope = response.json()
    DirectoryUserEnvelope.model_validate(envelope)
    assert envelope["dataName"] == "user"
    assert envelope["action"] == "create"
    assert envelope["user"] == {"id": user.id, **body}
    assert await directory_entry(app, user.id) == DirectoryEntry(
        user.id, "Ada Tutor", "https://cdn.example.test/ada.png", "tutor"
    )


async def test_a_known_user_is_replaced_not_merged(app: Any, client: httpx.AsyncClient) -> None:
    user = User("student")
    await put_user(
        client, user.id, {"fullname": "Old", "avatar": "https://a.test/x.png", "roleId": "student"}
    )
    response = await put_user(client, user.id, {"fullname": "New Name"})
    assert response.status_code == 200
    assert response.json()["action"] == "update"
    assert await directory_entry(app, user.id) == DirectoryEntry(user.id, "New Name", None, None)


async def test_a_user_seen_through_a_token_is_updated_with_200(
    app: Any, client: httpx.AsyncClient, student: User
) -> None:
    await client.get("/v1/myconversations", headers=student.headers)
    response = await put_user(client, student.id, {"fullname": "Renamed", "roleId": "student"})
    assert response.status_code == 200
    entry = await directory_entry(app, student.id)
    assert entry is not None and entry.fullname == "Renamed"


@pytest.mark.parametrize(
    ("role_id", "stored"),
    [
        (["tutor", "admin"], "admin,tutor"),
        ("student", "student"),
        ("tutor, admin", "admin,tutor"),
        ([], None),
        (None, None),
    ],
)
async def test_role_id_is_a_string_or_a_list(
    app: Any, client: httpx.AsyncClient, role_id: Any, stored: str | None
) -> None:
    user = User("tutor")
    response = await put_user(client, user.id, {"fullname": "R", "roleId": role_id})
    assert response.status_code == 201
    assert response.json()["user"]["roleId"] == stored
    entry = await directory_entry(app, user.id)
    assert entry is not None and entry.role_id == stored


async def test_directory_names_appear_in_new_conversations(client: httpx.AsyncClient, admin: User) -> None:
    target = User("student")
    await put_user(client, target.id, {"fullname": "Synced Student"})
    response = await client.post(
        "/v1/conversations",
        headers=admin.headers,
        json={"conversationType": "adminStudent", "participantA": admin.id, "participantB": target.id},
    )
    assert response.json()["conversation"]["participantBName"] == "Synced Student"


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"fullname": 5}, "errMsg_fullnameisNotValid"),
        ({"fullname": "x" * 256}, "errMsg_fullnameisNotValid"),
        ({"fullname": "\x00"}, "errMsg_fullnameisNotValid"),
        ({"avatar": ["a"]}, "errMsg_avatarisNotValid"),
        ({"avatar": "a" * 2049}, "errMsg_avatarisNotValid"),
        ({"roleId": 5}, "errMsg_roleIdisNotValid"),
        ({"roleId": [1, 2]}, "errMsg_roleIdisNotValid"),
        ({"roleId": ["ok", "not ok!"]}, "errMsg_roleIdisNotValid"),
        ({"roleId": ["r" * 60 + str(i) for i in range(10)]}, "errMsg_roleIdisNotValid"),
        ([], "errMsg_invalidBody"),
        ("text", "errMsg_invalidBody"),
    ],
)
async def test_bad_bodies_are_400_and_store_nothing(
    app: Any, client: httpx.AsyncClient, body: Any, key: str
) -> None:
    user = User("student")
    assert_error(await put_user(client, user.id, body), 400, key)
    assert await directory_entry(app, user.id) is None


async def test_bad_user_id_is_400(client: httpx.AsyncClient) -> None:
    assert_error(await put_user(client, "nobody", {"fullname": "x"}), 400, "errMsg_userIdisNotAValidID")


async def test_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    user = User("student")
    response = await client.put(
        f"/v1/m2m/users/{user.id}",
        headers={**service_headers(), "content-type": "application/json"},
        content=b'{"fullname": ',
    )
    assert_error(response, 400, "errMsg_invalidJson")


@pytest.mark.parametrize("caller", ["student", "admin", "super_admin"])
async def test_user_tokens_are_refused(client: httpx.AsyncClient, caller: str, request: Any) -> None:
    user: User = request.getfixturevalue(caller)
    response = await client.put(f"/v1/m2m/users/{user.id}", headers=user.headers, json={"fullname": "Me"})
    assert_error(response, 403, "errMsg_m2mTokenRequired")


async def test_no_token_is_401(client: httpx.AsyncClient, student: User) -> None:
    response = await client.put(f"/v1/m2m/users/{student.id}", json={"fullname": "Me"})
    assert_error(response, 401, "errMsg_loginRequired")
