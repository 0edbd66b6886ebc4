"""Idempotency-Key on service calls: a retry answers the first call's status and body without
doing the work again, also when retries race; the same key with another request is 409."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.support.conversations import EnrollmentSpec, assert_error
from tests.support.users import User, service_headers
from tutorhub_messaging.db.models import ChatMessage, Conversation, DirectoryUser, IdempotencyKey
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.idempotency.pruning import prune_expired_keys


def warning(target: User, text: str = "Please be polite.") -> dict[str, Any]:
    return {"targetUserId": target.id, "targetUserRole": "student", "messageContent": text}


def keyed(key: str, service: str = "adminPanel") -> dict[str, str]:
    return {**service_headers(service), "Idempotency-Key": key}


async def warnings_stored(app: Any, target: User) -> int:
    async with app.context.db.unit_of_work() as uow:
        rooms = select(Conversation.id).where(Conversation.participant_b == target.id)
        total = await uow.session.scalar(
            select(func.count()).select_from(ChatMessage).where(ChatMessage.room_id.in_(rooms))
        )
    return int(total or 0)


async def keys_stored(app: Any) -> int:
    async with app.context.db.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(IdempotencyKey)) or 0)


async def test_a_retried_system_message_answers_the_first_answer_and_stores_one_warning(
    app: Any, client: httpx.AsyncClient, student: User
) -> None:
    first = await client.post("/v1/sendsystemmessage", headers=keyed("warn-1"), json=warning(student))
    assert first.status_code == 201
    again = await client.post("/v1/sendsystemmessage", headers=keyed("warn-1"), json=warning(student))
    assert again.status_code == 201
    assert again.content == first.content  # byte for byte: same message id, same request id
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await warnings_stored(app, student) == 1


async def test_another_key_or_no_key_does_the_work_again(
    app: Any, client: httpx.AsyncClient, student: User
) -> None:
    await client.post("/v1/sendsystemmessage", headers=keyed("warn-1"), json=warning(student))
    await client.post("/v1/sendsystemmessage", headers=keyed("warn-2"), json=warning(student))
    await client.post("/v1/sendsystemmessage", headers=service_headers(), json=warning(student))
    assert await warnings_stored(app, student) == 3


async def test_keys_belong_to_the_calling_service(app: Any, client: httpx.AsyncClient, student: User) -> None:
    one = await client.post("/v1/sendsystemmessage", headers=keyed("k", "adminPanel"), json=warning(student))
    other = await client.post(
        "/v1/sendsystemmessage", headers=keyed("k", "complaints"), json=warning(student)
    )
    assert one.status_code == other.status_code == 201
    assert one.json()["chatMessage"]["id"] != other.json()["chatMessage"]["id"]
    assert await warnings_stored(app, student) == 2


async def test_the_same_key_with_another_body_is_409(
    app: Any, client: httpx.AsyncClient, student: User
) -> None:
    await client.post("/v1/sendsystemmessage", headers=keyed("warn-1"), json=warning(student))
    reused = await client.post(
        "/v1/sendsystemmessage", headers=keyed("warn-1"), json=warning(student, "Another text.")
    )
    assert_error(reused, 409, "errMsg_idempotencyKeyReused")
    assert await warnings_stored(app, student) == 1


async def test_the_same_key_on_another_route_is_409(client: httpx.AsyncClient, student: User) -> None:
    await client.post("/v1/sendsystemmessage", headers=keyed("shared"), json=warning(student))
    reused = await client.put(f"/v1/m2m/users/{student.id}", headers=keyed("shared"), json={"fullname": "X"})
    assert_error(reused, 409, "errMsg_idempotencyKeyReused")


async def test_an_equivalent_body_is_the_same_request(client: httpx.AsyncClient, student: User) -> None:
    """Field order and ignored fields do not make another request."""
    body = warning(student)
    first = await client.post("/v1/sendsystemmessage", headers=keyed("k"), json=body)
    reordered = {**dict(reversed(list(body.items()))), "unknownField": 1}
    again = await client.post("/v1/sendsystemmessage", headers=keyed("k"), json=reordered)
    assert again.status_code == 201
    assert again.content == first.content


async def test_a_failed_call_stores_no_key(app: Any, client: httpx.AsyncClient, student: User) -> None:
    bad = await client.post(
        "/v1/sendsystemmessage", headers=keyed("k"), json={**warning(student), "messageContent": " "}
    )
    assert_error(bad, 400)
    assert await keys_stored(app) == 0
    good = await client.post("/v1/sendsystemmessage", headers=keyed("k"), json=warning(student))
    assert good.status_code == 201
    assert await warnings_stored(app, student) == 1


async def test_a_key_longer_than_255_characters_is_400(
    app: Any, client: httpx.AsyncClient, student: User
) -> None:
    too_long = await client.post("/v1/sendsystemmessage", headers=keyed("k" * 256), json=warning(student))
    assert_error(too_long, 400, "errMsg_idempotencyKeyTooLong")
    assert await warnings_stored(app, student) == 0
    longest = await client.post("/v1/sendsystemmessage", headers=keyed("k" * 255), json=warning(student))
    assert longest.status_code == 201


@pytest.mark.parametrize("key", ["", "with space", "tab\tinside", "caf\u00e9"])
async def test_malformed_keys_are_400(app: Any, client: httpx.AsyncClient, student: User, key: str) -> None:
    headers: dict[str, Any] = {**service_headers(), "Idempotency-Key": key.encode()}
    response = await client.post("/v1/sendsystemmessage", headers=headers, json=warning(student))
    assert_error(response, 400, "errMsg_idempotencyKeyisNotValid")
    assert await warnings_stored(app, student) == 0


async def test_concurrent_retries_over_http_do_the_work_once(
    app: Any, server_url: str, student: User
) -> None:
    async with httpx.AsyncClient(base_url=server_url, timeout=20) as http:
        answers = await asyncio.gather(
            *(
                http.post("/v1/sendsystemmessage", headers=keyed("racing"), json=warning(student))
                for _ in range(6)
            )
        )
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.content for answer in answers}) == 1
    assert sum(1 for answer in answers if "idempotent-replayed" not in answer.headers) == 1
    assert await warnings_stored(app, student) == 1


async def test_concurrent_enrollment_retries_over_http_answer_alike(
    app: Any, server_url: str, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    headers = {**service_headers("enrollment"), "Idempotency-Key": f"enrollment-{spec.id}"}
    async with httpx.AsyncClient(base_url=server_url, timeout=20) as http:
        answers = await asyncio.gather(
            *(http.put(f"/v1/m2m/enrollments/{spec.id}", headers=headers, json=spec.body()) for _ in range(4))
        )
    # Every retry answers as the first call did: created (201), not "updated" (200).
    assert {answer.status_code for answer in answers} == {201}
    assert len({answer.content for answer in answers}) == 1


async def test_user_sync_is_replayed_with_its_first_status(app: Any, client: httpx.AsyncClient) -> None:
    user = User()
    url = f"/v1/m2m/users/{user.id}"
    first = await client.put(url, headers=keyed("user-1", "users"), json={"fullname": "First Name"})
    assert first.status_code == 201
    # A plain update in between: the replay still answers the first call, and changes nothing.
    await client.put(url, headers=service_headers("users"), json={"fullname": "Second Name"})
    again = await client.put(url, headers=keyed("user-1", "users"), json={"fullname": "First Name"})
    assert again.status_code == 201
    assert again.content == first.content
    async with app.context.db.unit_of_work() as uow:
        row = await uow.session.get(DirectoryUser, user.id)
    assert row is not None and row.fullname == "Second Name"


async def test_an_expired_key_is_a_new_call_and_is_pruned(
    app: Any, client: httpx.AsyncClient, student: User
) -> None:
    await client.post("/v1/sendsystemmessage", headers=keyed("old"), json=warning(student))
    await client.post("/v1/sendsystemmessage", headers=keyed("fresh"), json=warning(student))
    async with app.context.db.unit_of_work() as uow:
        await uow.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "old")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    # Past its lifetime the key is unknown: the work is done again (and the key stored anew).
    again = await client.post("/v1/sendsystemmessage", headers=keyed("old"), json=warning(student, "Other."))
    assert again.status_code == 201
    assert "idempotent-replayed" not in again.headers
    assert await warnings_stored(app, student) == 3
    async with app.context.db.unit_of_work() as uow:
        await uow.session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == "old")
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await prune_expired_keys(app.context.db) == 1
    async with app.context.db.unit_of_work() as uow:
        left = list(await uow.session.scalars(select(IdempotencyKey.key)))
    assert left == ["fresh"]


async def test_refusals_are_counted_in_metrics(client: httpx.AsyncClient, student: User) -> None:
    await client.post("/v1/sendsystemmessage", headers=keyed("k" * 300), json=warning(student))
    await client.post("/v1/sendsystemmessage", headers=keyed("m"), json=warning(student))
    await client.post("/v1/sendsystemmessage", headers=keyed("m"), json=warning(student))
    metrics = (await client.get("/metrics")).text
    for outcome in ("refused", "stored", "replayed"):
        assert f'messaging_idempotency_keys_total{{outcome="{outcome}"}}' in metrics
