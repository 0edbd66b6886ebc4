"""createConversation: who may open which channel, enrollment rules, one conversation per key."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.support.conversations import (
    EnrollmentSpec,
    assert_error,
    open_admin_channel,
    put_enrollment,
    store_enrollment_row,
)
from tests.support.users import User, service_headers
from tutorhub_messaging.conversations.schemas import ConversationEnvelope

RECORD_FIELDS = {
    "id",
    "conversationType",
    "conversationType_idx",
    "participantA",
    "participantB",
    "enrollmentId",
    "lastMessageAt",
    "lastMessagePreview",
    "status",
    "status_idx",
    "participantAName",
    "participantBName",
    "courseTitle",
    "isActive",
    "recordVersion",
    "createdAt",
    "updatedAt",
    "_owner",
}


def admin_body(admin: User, target: User, conversation_type: str = "adminStudent") -> dict[str, Any]:
    return {"conversationType": conversation_type, "participantA": admin.id, "participantB": target.id}


def student_tutor_body(spec: EnrollmentSpec, **extra: Any) -> dict[str, Any]:
    return {
        "conversationType": "studentTutor",
        "participantA": spec.student.id,
        "participantB": spec.tutor.id,
        "enrollmentId": spec.id,
        **extra,
    }


async def test_admin_creates_admin_student_channel_with_full_record(
    client: httpx.AsyncClient, admin: User, student: User
) -> None:
    response = await client.post("/v1/conversations", headers=admin.headers, json=admin_body(admin, student))
    assert response.status_code == 201
    body = response.json()
    ConversationEnvelope.model_validate(body)
    assert body["statusCode"] == 201
    assert body["dataName"] == "conversation"
    assert body["action"] == "create"
    assert body["rowCount"] == 1
    record = body["conversation"]
    assert set(record) == RECORD_FIELDS
    uuid.UUID(record["id"], version=4)
    assert record["conversationType"] == "adminStudent"
    assert record["conversationType_idx"] == 1
    assert record["status"] == "active"
    assert record["status_idx"] == 0
    assert record["participantA"] == admin.id
    assert record["participantB"] == student.id
    assert record["isActive"] is True
    assert record["recordVersion"] == 0
    assert record["_owner"] == admin.id
    assert record["lastMessageAt"] is None
    assert record["createdAt"].endswith("Z")


@pytest.mark.parametrize("conversation_type", ["adminStudent", "adminTutor"])
async def test_super_admin_may_open_admin_channels(
    client: httpx.AsyncClient, super_admin: User, tutor: User, conversation_type: str
) -> None:
    response = await client.post(
        "/v1/conversations",
        headers=super_admin.headers,
        json=admin_body(super_admin, tutor, conversation_type),
    )
    assert response.status_code == 201
    assert response.json()["conversation"]["conversationType"] == conversation_type


@pytest.mark.parametrize("role", ["student", "tutor"])
@pytest.mark.parametrize("conversation_type", ["adminStudent", "adminTutor"])
async def test_ordinary_users_may_not_open_admin_channels(
    client: httpx.AsyncClient, admin: User, role: str, conversation_type: str
) -> None:
    caller = User(role)
    response = await client.post(
        "/v1/conversations",
        headers=caller.headers,
        json={"conversationType": conversation_type, "participantA": admin.id, "participantB": caller.id},
    )
    assert_error(response, 403, "errMsg_adminChannelNotAllowed")
    inbox = await client.get("/v1/myconversations", headers=caller.headers)
    assert inbox.json()["conversations"] == []


async def test_creating_an_existing_conversation_returns_it_with_200(
    client: httpx.AsyncClient, admin: User, student: User
) -> None:
    first = await open_admin_channel(client, admin, student)
    again = await client.post("/v1/conversations", headers=admin.headers, json=admin_body(admin, student))
    assert again.status_code == 200
    assert again.json()["statusCode"] == 200
    assert again.json()["conversation"]["id"] == first["id"]
    inbox = await client.get("/v1/myconversations", headers=student.headers)
    assert [c["id"] for c in inbox.json()["conversations"]] == [first["id"]]


async def test_concurrent_creates_store_one_conversation(
    client: httpx.AsyncClient, admin: User, student: User
) -> None:
    responses = await asyncio.gather(
        *(
            client.post("/v1/conversations", headers=admin.headers, json=admin_body(admin, student))
            for _ in range(6)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 200, 200, 200, 201]
    assert len({r.json()["conversation"]["id"] for r in responses}) == 1


async def test_the_same_pair_may_have_one_conversation_per_type(
    client: httpx.AsyncClient, admin: User, tutor: User
) -> None:
    admin_tutor = await open_admin_channel(client, admin, tutor, "adminTutor")
    admin_student = await open_admin_channel(client, admin, tutor, "adminStudent")
    assert admin_tutor["id"] != admin_student["id"]


async def test_participants_must_differ(client: httpx.AsyncClient, admin: User) -> None:
    response = await client.post("/v1/conversations", headers=admin.headers, json=admin_body(admin, admin))
    assert_error(response, 400, "errMsg_participantsMustDiffer")


async def test_enrollment_id_is_refused_on_admin_channels(
    client: httpx.AsyncClient, admin: User, student: User
) -> None:
    body = {**admin_body(admin, student), "enrollmentId": str(uuid.uuid4())}
    response = await client.post("/v1/conversations", headers=admin.headers, json=body)
    assert_error(response, 400, "errMsg_enrollmentNotValid")


async def test_names_come_from_the_directory_of_callers_seen_before(
    client: httpx.AsyncClient, admin: User, student: User
) -> None:
    # Any authenticated call writes the caller into the directory.
    await client.get("/v1/myconversations", headers=student.headers)
    conversation = await open_admin_channel(client, admin, student)
    assert conversation["participantAName"] == admin.fullname
    assert conversation["participantBName"] == student.fullname


async def test_unknown_users_have_no_name_until_given(client: httpx.AsyncClient, admin: User) -> None:
    never_seen = User("student")
    conversation = await open_admin_channel(client, admin, never_seen)
    assert conversation["participantBName"] is None


async def test_given_names_win_and_client_inbox_fields_are_ignored(
    client: httpx.AsyncClient, admin: User, student: User
) -> None:
    await client.get("/v1/myconversations", headers=student.headers)
    body = {
        **admin_body(admin, student),
        "participantAName": "Moderation Team",
        "participantBName": "Pupil",
        "lastMessageAt": "2030-01-01T00:00:00.000Z",
        "lastMessagePreview": "fake preview",
        "somethingUnknown": {"x": 1},
    }
    response = await client.post("/v1/conversations", headers=admin.headers, json=body)
    assert response.status_code == 201
    record = response.json()["conversation"]
    assert record["participantAName"] == "Moderation Team"
    assert record["participantBName"] == "Pupil"
    assert record["lastMessageAt"] is None
    assert record["lastMessagePreview"] is None
    assert "somethingUnknown" not in record


async def test_participant_opens_student_tutor_with_an_active_enrollment(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor, course_title="Geometry")
    await store_enrollment_row(app.context.db, spec)
    response = await client.post("/v1/conversations", headers=student.headers, json=student_tutor_body(spec))
    assert response.status_code == 201
    record = response.json()["conversation"]
    assert record["conversationType"] == "studentTutor"
    assert record["conversationType_idx"] == 0
    assert record["enrollmentId"] == spec.id
    assert record["courseTitle"] == "Geometry"
    assert record["participantAName"] == student.fullname
    assert record["_owner"] == student.id


@pytest.mark.parametrize("caller_name", ["tutor", "admin", "super_admin"])
async def test_tutor_and_admins_may_open_student_tutor(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User, caller_name: str, request: Any
) -> None:
    caller: User = request.getfixturevalue(caller_name)
    spec = EnrollmentSpec(student, tutor)
    await store_enrollment_row(app.context.db, spec)
    response = await client.post("/v1/conversations", headers=caller.headers, json=student_tutor_body(spec))
    assert response.status_code == 201


async def test_stranger_may_not_open_someone_elses_student_tutor(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User, stranger: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    await store_enrollment_row(app.context.db, spec)
    response = await client.post("/v1/conversations", headers=stranger.headers, json=student_tutor_body(spec))
    assert_error(response, 403, "errMsg_notAParticipant")


async def test_student_tutor_after_activation_returns_the_conversation_the_sync_opened(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    opened = (await put_enrollment(client, spec)).json()["conversation"]
    response = await client.post("/v1/conversations", headers=tutor.headers, json=student_tutor_body(spec))
    assert response.status_code == 200
    assert response.json()["conversation"]["id"] == opened["id"]


async def test_student_tutor_without_enrollment_is_refused(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    body = {"conversationType": "studentTutor", "participantA": student.id, "participantB": tutor.id}
    response = await client.post("/v1/conversations", headers=student.headers, json=body)
    assert_error(response, 400, "errMsg_enrollmentNotValid")


async def test_student_tutor_with_unknown_enrollment_is_refused(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)  # never stored
    response = await client.post("/v1/conversations", headers=student.headers, json=student_tutor_body(spec))
    assert_error(response, 400, "errMsg_enrollmentNotValid")


async def test_student_tutor_with_inactive_enrollment_is_refused(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor, status="completed")
    await store_enrollment_row(app.context.db, spec)
    response = await client.post("/v1/conversations", headers=student.headers, json=student_tutor_body(spec))
    assert_error(response, 400, "errMsg_enrollmentNotValid")


async def test_student_tutor_must_match_the_enrollments_pair_and_roles(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User, stranger: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    await store_enrollment_row(app.context.db, spec)
    swapped = {**student_tutor_body(spec), "participantA": tutor.id, "participantB": student.id}
    response = await client.post("/v1/conversations", headers=student.headers, json=swapped)
    assert_error(response, 400, "errMsg_enrollmentNotValid")
    other_tutor = {**student_tutor_body(spec), "participantB": stranger.id}
    response = await client.post("/v1/conversations", headers=student.headers, json=other_tutor)
    assert_error(response, 400, "errMsg_enrollmentNotValid")


async def test_service_token_may_not_create(client: httpx.AsyncClient, admin: User, student: User) -> None:
    response = await client.post(
        "/v1/conversations", headers=service_headers(), json=admin_body(admin, student)
    )
    assert_error(response, 403, "errMsg_userTokenRequired")


async def test_create_without_token_is_401(client: httpx.AsyncClient, admin: User, student: User) -> None:
    response = await client.post("/v1/conversations", json=admin_body(admin, student))
    assert_error(response, 401, "errMsg_loginRequired")


async def test_ids_are_stored_lowercase(client: httpx.AsyncClient, admin: User, student: User) -> None:
    body = {**admin_body(admin, student), "participantB": student.id.upper()}
    response = await client.post("/v1/conversations", headers=admin.headers, json=body)
    assert response.json()["conversation"]["participantB"] == student.id
    again = await client.post("/v1/conversations", headers=admin.headers, json=admin_body(admin, student))
    assert again.status_code == 200
