"""getConversation: participants and admins read it, others are refused, deleted ones are gone."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.conversations import EnrollmentSpec, assert_error, open_admin_channel, open_student_tutor
from tests.support.users import User, service_headers
from tutorhub_messaging.conversations.repository import ConversationRepository
from tutorhub_messaging.conversations.schemas import ConversationDetailEnvelope


@pytest.mark.parametrize("reader", ["student", "tutor", "admin", "super_admin"])
async def test_participants_and_admins_read_a_student_tutor_conversation(
    client: httpx.AsyncClient, student: User, tutor: User, reader: str, request: Any
) -> None:
    spec = EnrollmentSpec(student, tutor)
    conversation = await open_student_tutor(client, spec)
    caller: User = request.getfixturevalue(reader)
    response = await client.get(f"/v1/conversations/{conversation['id']}", headers=caller.headers)
    assert response.status_code == 200
    body = response.json()
    ConversationDetailEnvelope.model_validate(body)
    assert body["action"] == "get"
    assert body["dataName"] == "conversation"
    record = body["conversation"]
    assert record["id"] == conversation["id"]
    assert record["enrollment"] == {
        "coursePackId": spec.course_pack_id,
        "studentId": student.id,
        "tutorProfileId": spec.tutor_profile_id,
    }


async def test_a_conversation_without_enrollment_has_enrollment_null(
    client: httpx.AsyncClient, admin: User, student: User
) -> None:
    conversation = await open_admin_channel(client, admin, student)
    response = await client.get(f"/v1/conversations/{conversation['id']}", headers=student.headers)
    assert response.status_code == 200
    assert response.json()["conversation"]["enrollment"] is None


async def test_stranger_is_refused_and_learns_nothing(
    client: httpx.AsyncClient, student: User, tutor: User, stranger: User
) -> None:
    conversation = await open_student_tutor(client, EnrollmentSpec(student, tutor))
    response = await client.get(f"/v1/conversations/{conversation['id']}", headers=stranger.headers)
    body = assert_error(response, 403, "errMsg_forbidden")
    assert conversation["id"] not in response.text
    assert student.id not in response.text
    assert "conversation" not in body


async def test_an_admin_who_is_not_a_participant_reads_it(
    client: httpx.AsyncClient, admin: User, student: User
) -> None:
    other_admin = User("admin")
    conversation = await open_admin_channel(client, admin, student)
    response = await client.get(f"/v1/conversations/{conversation['id']}", headers=other_admin.headers)
    assert response.status_code == 200


async def test_soft_deleted_conversation_is_404_even_for_participants(
    app: Any, client: httpx.AsyncClient, admin: User, student: User
) -> None:
    conversation = await open_admin_channel(client, admin, student)
    async with app.context.db.unit_of_work() as uow:
        repository = ConversationRepository(uow.session)
        row = await repository.get_active(conversation["id"])
        assert row is not None
        await repository.change(row, is_active=False)
    for caller in (student, admin):
        response = await client.get(f"/v1/conversations/{conversation['id']}", headers=caller.headers)
        assert_error(response, 404, "errMsg_conversationNotFound")
    inbox = await client.get("/v1/myconversations", headers=student.headers)
    assert inbox.json()["conversations"] == []


async def test_creating_a_soft_deleted_conversation_again_is_409(
    app: Any, client: httpx.AsyncClient, admin: User, student: User
) -> None:
    conversation = await open_admin_channel(client, admin, student)
    async with app.context.db.unit_of_work() as uow:
        repository = ConversationRepository(uow.session)
        row = await repository.get_active(conversation["id"])
        assert row is not None
        await repository.change(row, is_active=False)
    response = await client.post(
        "/v1/conversations",
        headers=admin.headers,
        json={"conversationType": "adminStudent", "participantA": admin.id, "participantB": student.id},
    )
    assert_error(response, 409, "errMsg_conversationDeleted")


async def test_service_token_may_not_read(client: httpx.AsyncClient, admin: User, student: User) -> None:
    conversation = await open_admin_channel(client, admin, student)
    response = await client.get(f"/v1/conversations/{conversation['id']}", headers=service_headers())
    assert_error(response, 403, "errMsg_userTokenRequired")


async def test_read_without_token_is_401(client: httpx.AsyncClient, admin: User, student: User) -> None:
    conversation = await open_admin_channel(client, admin, student)
    response = await client.get(f"/v1/conversations/{conversation['id']}")
    assert_error(response, 401, "errMsg_loginRequired")


async def test_uppercase_id_finds_the_conversation(
    client: httpx.AsyncClient, admin: User, student: User
) -> None:
    conversation = await open_admin_channel(client, admin, student)
    response = await client.get(f"/v1/conversations/{conversation['id'].upper()}", headers=student.headers)
    assert response.status_code == 200
    assert response.json()["conversation"]["id"] == conversation["id"]


async def test_prefixed_route_answers_the_same(client: httpx.AsyncClient, admin: User, student: User) -> None:
    conversation = await open_admin_channel(client, admin, student)
    response = await client.get(
        f"/messaging-api/v1/conversations/{conversation['id']}", headers=student.headers
    )
    assert response.status_code == 200
    assert response.json()["conversation"]["id"] == conversation["id"]
