"""Mindbricks session mode: the token names a session, the session in Redis says who the user is."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import jwt
import orjson
import pytest
from redis.asyncio import Redis

from tests.support.conversations import assert_error
from tests.support.live import free_port
from tests.support.users import TEST_SECRET, User, service_headers

# A database number of its own; every key is a fresh session id, deleted after the test.
REDIS_URL = "redis://127.0.0.1:6379/5"
USER_ROUTE = "/v1/myconversations"

SessionWriter = Callable[[str, Any], Awaitable[None]]


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"session_store": "redis", "redis_url": REDIS_URL}


@pytest.fixture
async def write_session() -> AsyncIterator[SessionWriter]:
    redis = Redis.from_url(REDIS_URL)
    written: list[str] = []

    async def write(session_id: str, value: Any) -> None:
        key = f"hexasession:{session_id}"
        written.append(key)
        await redis.set(key, value if isinstance(value, bytes) else orjson.dumps(value), ex=300)

    try:
        yield write
    finally:
        if written:
            await redis.delete(*written)
        await redis.aclose()


def session_token(user_id: str, session_id: str, **claims: Any) -> str:
    """What a Mindbricks session token carries: who, which session, until when."""
    now = int(time.time())
    body = {"userId": user_id, "sessionId": session_id, "iat": now, "exp": now + 600, **claims}
    return jwt.encode(body, TEST_SECRET, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_roles_and_names_come_from_the_session(
    client: httpx.AsyncClient, write_session: SessionWriter, student: User
) -> None:
    admin_id, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    await write_session(
        session_id,
        {"userId": admin_id, "sessionId": session_id, "roleId": "admin", "fullname": "Session Admin"},
    )
    # The token claims nothing about roles: only the session makes this caller an admin.
    response = await client.post(
        "/v1/conversations",
        headers=bearer(session_token(admin_id, session_id)),
        json={"conversationType": "adminStudent", "participantA": admin_id, "participantB": student.id},
    )
    assert response.status_code == 201, response.text
    assert response.json()["conversation"]["participantAName"] == "Session Admin"
    assert response.json()["sessionId"] == session_id


async def test_session_roles_win_over_token_roles(
    client: httpx.AsyncClient, write_session: SessionWriter, student: User
) -> None:
    user_id, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    await write_session(session_id, {"userId": user_id, "roleId": "student"})
    response = await client.post(
        "/v1/conversations",
        headers=bearer(session_token(user_id, session_id, roleId="superAdmin")),
        json={"conversationType": "adminStudent", "participantA": user_id, "participantB": student.id},
    )
    assert_error(response, 403, "errMsg_adminChannelNotAllowed")


async def test_missing_session_is_401(client: httpx.AsyncClient) -> None:
    token = session_token(str(uuid.uuid4()), str(uuid.uuid4()))
    assert_error(await client.get(USER_ROUTE, headers=bearer(token)), 401, "errMsg_invalidToken")


async def test_token_without_session_id_is_401(client: httpx.AsyncClient) -> None:
    now = int(time.time())
    token = jwt.encode({"userId": str(uuid.uuid4()), "exp": now + 60}, TEST_SECRET, algorithm="HS256")
    assert_error(await client.get(USER_ROUTE, headers=bearer(token)), 401, "errMsg_invalidToken")


async def test_session_of_another_user_is_401(
    client: httpx.AsyncClient, write_session: SessionWriter
) -> None:
    session_id = str(uuid.uuid4())
    await write_session(session_id, {"userId": str(uuid.uuid4()), "roleId": "superAdmin"})
    token = session_token(str(uuid.uuid4()), session_id)
    assert_error(await client.get(USER_ROUTE, headers=bearer(token)), 401, "errMsg_invalidToken")


@pytest.mark.parametrize("stored", [b"not json", b"[1, 2]", b'"text"'])
async def test_unreadable_session_is_401(
    client: httpx.AsyncClient, write_session: SessionWriter, stored: bytes
) -> None:
    user_id, session_id = str(uuid.uuid4()), str(uuid.uuid4())
    await write_session(session_id, stored)
    assert_error(await client.get(USER_ROUTE, headers=bearer(session_token(user_id, session_id))), 401)


async def test_service_tokens_do_not_need_a_session(client: httpx.AsyncClient) -> None:
    response = await client.put(
        f"/v1/m2m/users/{uuid.uuid4()}", headers=service_headers(), json={"fullname": "Synced"}
    )
    assert response.status_code == 201


class TestSessionStoreDown:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"session_store": "redis", "redis_url": f"redis://127.0.0.1:{free_port()}/0"}

    async def test_unreachable_session_store_is_503_not_500(self, client: httpx.AsyncClient) -> None:
        token = session_token(str(uuid.uuid4()), str(uuid.uuid4()))
        body = assert_error(
            await client.get(USER_ROUTE, headers=bearer(token)), 503, "errMsg_serviceUnavailable"
        )
        assert "redis" not in body["detail"].lower()
