"""Bad input on the conversation routes is a clear 400 (or 413), never a 500, and stores nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest

from tests.support.conversations import assert_error
from tests.support.users import User


def valid_body(admin: User, student: User) -> dict[str, Any]:
    return {"conversationType": "adminStudent", "participantA": admin.id, "participantB": student.id}


async def assert_nothing_stored(client: httpx.AsyncClient, admin: User) -> None:
    inbox = await client.get("/v1/myconversations", headers=admin.headers)
    assert inbox.json()["conversations"] == []


@pytest.mark.parametrize("missing", ["conversationType", "participantA", "participantB"])
async def test_missing_required_field(
    client: httpx.AsyncClient, admin: User, student: User, missing: str
) -> None:
    body = valid_body(admin, student)
    del body[missing]
    response = await client.post("/v1/conversations", headers=admin.headers, json=body)
    assert_error(response, 400, f"errMsg_{missing}isRequired")
    await assert_nothing_stored(client, admin)


@pytest.mark.parametrize(
    ("field", "value", "key"),
    [
        ("conversationType", "groupChat", "errMsg_conversationTypeisNotValid"),
        ("conversationType", 3, "errMsg_conversationTypeisNotValid"),
        ("conversationType", None, "errMsg_conversationTypeisNotValid"),
        ("participantA", "not-a-uuid", "errMsg_participantAisNotAValidID"),
        ("participantA", 12345, "errMsg_participantAisNotAValidID"),
        ("participantB", {"id": "x"}, "errMsg_participantBisNotAValidID"),
        ("participantB", "", "errMsg_participantBisNotAValidID"),
        ("enrollmentId", "42", "errMsg_enrollmentIdisNotAValidID"),
        ("participantAName", 7, "errMsg_participantANameisNotValid"),
        ("participantAName", ["x"], "errMsg_participantANameisNotValid"),
        ("participantBName", "x" * 256, "errMsg_participantBNameisNotValid"),
        ("participantBName", "nul\x00inside", "errMsg_participantBNameisNotValid"),
        ("courseTitle", "t" * 501, "errMsg_courseTitleisNotValid"),
        ("courseTitle", True, "errMsg_courseTitleisNotValid"),
        ("lastMessageAt", "yesterday", "errMsg_lastMessageAtisNotValid"),
        ("lastMessagePreview", 5, "errMsg_lastMessagePreviewisNotValid"),
    ],
)
async def test_wrong_values_are_400(
    client: httpx.AsyncClient, admin: User, student: User, field: str, value: Any, key: str
) -> None:
    body = {**valid_body(admin, student), field: value}
    response = await client.post("/v1/conversations", headers=admin.headers, json=body)
    assert_error(response, 400, key)
    await assert_nothing_stored(client, admin)


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (b"[]", "errMsg_invalidBody"),
        (b'"a string"', "errMsg_invalidBody"),
        (b"42", "errMsg_invalidBody"),
        (b"null", "errMsg_invalidBody"),
        (b"{", "errMsg_invalidJson"),
        (b'{"conversationType": adminStudent}', "errMsg_invalidJson"),
        (b"\xff\xfe\x00garbage", None),
        (b"[" * 50_000, None),
        (b"", "errMsg_bodyisRequired"),
    ],
)
async def test_garbage_bodies_are_400(
    client: httpx.AsyncClient, admin: User, raw: bytes, key: str | None
) -> None:
    response = await client.post(
        "/v1/conversations", headers={**admin.headers, "content-type": "application/json"}, content=raw
    )
    assert_error(response, 400, key)


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient, admin: User, student: User) -> None:
    response = await client.post(
        "/v1/conversations",
        headers={**admin.headers, "content-type": "text/plain"},
        content=str(valid_body(admin, student)).encode(),
    )
    assert_error(response, 400, "errMsg_invalidBody")


async def test_lone_surrogate_in_a_name_is_400(client: httpx.AsyncClient, admin: User, student: User) -> None:
    # json= cannot carry a lone surrogate; the raw escape can.
    raw = orjson.dumps(valid_body(admin, student))[:-1] + b',"participantAName":"\\ud800"}'
    response = await client.post(
        "/v1/conversations", headers={**admin.headers, "content-type": "application/json"}, content=raw
    )
    assert_error(response, 400, "errMsg_participantANameisNotValid")


async def test_huge_body_is_413(client: httpx.AsyncClient, admin: User, student: User) -> None:
    body = {**valid_body(admin, student), "participantAName": "x" * 2_000_000}
    response = await client.post("/v1/conversations", headers=admin.headers, json=body)
    assert_error(response, 413, "errMsg_payloadTooLarge")
    await assert_nothing_stored(client, admin)


async def test_huge_string_under_the_body_limit_is_400(
    client: httpx.AsyncClient, admin: User, student: User
) -> None:
    body = {**valid_body(admin, student), "courseTitle": "x" * 500_000}
    response = await client.post("/v1/conversations", headers=admin.headers, json=body)
    assert_error(response, 400, "errMsg_courseTitleisNotValid")


async def test_auth_is_checked_before_the_body(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/conversations", json={"conversationType": 5})
    assert_error(response, 401)


@pytest.mark.parametrize("bad_id", ["123", "not-a-uuid", "%00", "' OR 1=1 --", "x" * 300])
async def test_get_with_a_bad_id_is_400(client: httpx.AsyncClient, student: User, bad_id: str) -> None:
    response = await client.get(f"/v1/conversations/{bad_id}", headers=student.headers)
    assert_error(response, 400, "errMsg_conversationIdisNotAValidID")


@pytest.mark.parametrize(
    ("params", "key"),
    [
        ({"pageNumber": "abc"}, "errMsg_pageNumberisNotValid"),
        ({"pageNumber": "-1"}, "errMsg_pageNumberisNotValid"),
        ({"pageNumber": "1.5"}, "errMsg_pageNumberisNotValid"),
        ({"pageNumber": str(10**30)}, "errMsg_pageNumberisNotValid"),
        ({"pageRowCount": "0"}, "errMsg_pageRowCountisNotValid"),
        ({"pageRowCount": "501"}, "errMsg_pageRowCountisNotValid"),
        ({"pageRowCount": ""}, "errMsg_pageRowCountisNotValid"),
    ],
)
async def test_bad_paging_is_400(
    client: httpx.AsyncClient, student: User, params: dict[str, str], key: str
) -> None:
    response = await client.get("/v1/myconversations", headers=student.headers, params=params)
    assert_error(response, 400, key)


async def test_largest_allowed_page_is_an_empty_page(client: httpx.AsyncClient, student: User) -> None:
    response = await client.get(
        "/v1/myconversations", headers=student.headers, params={"pageNumber": 10_000_000, "pageRowCount": 500}
    )
    assert response.status_code == 200
    assert response.json()["conversations"] == []


async def test_unknown_conversation_is_404(client: httpx.AsyncClient, admin: User) -> None:
    response = await client.get(f"/v1/conversations/{uuid.uuid4()}", headers=admin.headers)
    assert_error(response, 404, "errMsg_conversationNotFound")
