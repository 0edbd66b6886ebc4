"""PUT /v1/m2m/enrollments/{id}: the read model, and the studentTutor conversation that follows it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.support.conversations import EnrollmentSpec, assert_error, put_enrollment
from tests.support.users import User, service_headers
from tutorhub_messaging.conversations.schemas import EnrollmentSyncEnvelope
from tutorhub_messaging.hub.engine import HubEngine
from tutorhub_messaging.hub.rooms import access_room
from tutorhub_messaging.identity.principal import Principal


async def sync(client: httpx.AsyncClient, spec: EnrollmentSpec, **changes: Any) -> dict[str, Any]:
    response = await put_enrollment(client, spec, **changes)
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    EnrollmentSyncEnvelope.model_validate(body)
    return body


async def test_activation_creates_the_student_tutor_conversation(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor, course_title="Calculus")
    response = await put_enrollment(client, spec, studentName="Stu Dent", tutorName="Tu Tor")
    assert response.status_code == 201
    body = response.json()
    assert body["dataName"] == "enrollment"
    assert body["action"] == "create"
    assert body["enrollment"]["id"] == spec.id
    assert body["enrollment"]["status"] == "active"
    conversation = body["conversation"]
    assert conversation["conversationType"] == "studentTutor"
    assert conversation["participantA"] == student.id
    assert conversation["participantB"] == tutor.id
    assert conversation["enrollmentId"] == spec.id
    assert conversation["courseTitle"] == "Calculus"
    assert conversation["participantAName"] == "Stu Dent"
    assert conversation["participantBName"] == "Tu Tor"
    assert conversation["status"] == "active"
    inbox = await client.get("/v1/myconversations", headers=tutor.headers)
    assert [c["id"] for c in inbox.json()["conversations"]] == [conversation["id"]]


async def test_names_fall_back_to_the_directory(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    await client.get("/v1/myconversations", headers=student.headers)
    await client.get("/v1/myconversations", headers=tutor.headers)
    conversation = (await sync(client, EnrollmentSpec(student, tutor)))["conversation"]
    assert conversation["participantAName"] == student.fullname
    assert conversation["participantBName"] == tutor.fullname


async def test_an_enrollment_that_is_not_active_opens_nothing(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    body = await sync(client, EnrollmentSpec(student, tutor, status="pending"))
    assert body["conversation"] is None
    inbox = await client.get("/v1/myconversations", headers=student.headers)
    assert inbox.json()["conversations"] == []


async def test_repeating_an_active_sync_changes_nothing(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    first = await sync(client, spec)
    again = await sync(client, spec)
    assert again["statusCode"] == 200
    assert again["action"] == "update"
    assert again["conversation"] == first["conversation"]


async def test_deactivation_closes_and_reactivation_reopens(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    opened = (await sync(client, spec))["conversation"]
    closed = (await sync(client, spec, status="cancelled"))["conversation"]
    assert closed["id"] == opened["id"]
    assert closed["status"] == "closed"
    assert closed["status_idx"] == 1
    assert closed["recordVersion"] == opened["recordVersion"] + 1

    # Closed means no longer eligible for realtime chat.
    async with app.context.db.unit_of_work() as uow:
        principal = Principal(student.id, frozenset({"student"}))
        engine = HubEngine(app.context.hub)
        access = await access_room(uow.session, engine, principal, opened["id"], require_eligible=False)
        assert access.eligible is False

    reopened = (await sync(client, spec, status="active"))["conversation"]
    assert reopened["id"] == opened["id"]
    assert reopened["status"] == "active"
    assert reopened["status_idx"] == 0


async def test_a_new_enrollment_of_the_pair_reopens_and_relinks(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    old = EnrollmentSpec(student, tutor, course_title="Old course")
    opened = (await sync(client, old))["conversation"]
    await sync(client, old, status="completed")
    new = EnrollmentSpec(student, tutor, course_title="New course")
    reopened = (await sync(client, new))["conversation"]
    assert reopened["id"] == opened["id"]
    assert reopened["status"] == "active"
    assert reopened["enrollmentId"] == new.id
    assert reopened["courseTitle"] == "New course"


async def test_conversation_stays_open_while_another_enrollment_of_the_pair_is_active(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    first = EnrollmentSpec(student, tutor, course_title="First")
    second = EnrollmentSpec(student, tutor, course_title="Second")
    opened = (await sync(client, first))["conversation"]
    still = (await sync(client, second))["conversation"]
    assert still["id"] == opened["id"]
    assert still["enrollmentId"] == first.id  # the current link is kept while it is active

    after_first_ends = (await sync(client, first, status="completed"))["conversation"]
    assert after_first_ends["status"] == "active"
    assert after_first_ends["enrollmentId"] == second.id
    assert after_first_ends["courseTitle"] == "Second"

    after_both_end = (await sync(client, second, status="completed"))["conversation"]
    assert after_both_end["status"] == "closed"


async def test_an_enrollment_moved_to_another_tutor_moves_the_conversation(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    old_pair = (await sync(client, spec))["conversation"]
    new_tutor = User("tutor")
    new_pair = (await sync(client, spec, tutorUserId=new_tutor.id))["conversation"]
    assert new_pair["id"] != old_pair["id"]
    assert new_pair["participantB"] == new_tutor.id
    inbox = await client.get("/v1/myconversations", headers=tutor.headers)
    [left_behind] = inbox.json()["conversations"]
    assert left_behind["id"] == old_pair["id"]
    assert left_behind["status"] == "closed"


async def test_course_title_updates_follow_the_linked_enrollment(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor, course_title="Draft title")
    await sync(client, spec)
    updated = (await sync(client, spec, courseTitle="Final title"))["conversation"]
    assert updated["courseTitle"] == "Final title"


async def test_the_read_model_is_replaced_and_shown_in_get_conversation(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    conversation = (await sync(client, spec))["conversation"]
    new_pack = str(uuid.uuid4())
    body = await sync(client, spec, coursePackId=new_pack, courseTitle=None)
    assert body["enrollment"]["coursePackId"] == new_pack
    assert body["enrollment"]["courseTitle"] is None
    response = await client.get(f"/v1/conversations/{conversation['id']}", headers=student.headers)
    assert response.json()["conversation"]["enrollment"]["coursePackId"] == new_pack


async def test_concurrent_activations_of_one_pair_open_one_conversation(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    specs = [EnrollmentSpec(student, tutor) for _ in range(4)]
    responses = await asyncio.gather(*(put_enrollment(client, spec) for spec in specs))
    assert all(r.status_code == 201 for r in responses)
    assert len({r.json()["conversation"]["id"] for r in responses}) == 1
    inbox = await client.get("/v1/myconversations", headers=student.headers)
    assert len(inbox.json()["conversations"]) == 1


async def test_concurrent_end_and_start_leave_the_conversation_open(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    ending = EnrollmentSpec(student, tutor)
    await sync(client, ending)
    starting = EnrollmentSpec(student, tutor)
    await asyncio.gather(put_enrollment(client, ending, status="completed"), put_enrollment(client, starting))
    inbox = await client.get("/v1/myconversations", headers=student.headers)
    [conversation] = inbox.json()["conversations"]
    assert conversation["status"] == "active"
    assert conversation["enrollmentId"] == starting.id


async def test_student_and_tutor_must_differ(client: httpx.AsyncClient, student: User) -> None:
    spec = EnrollmentSpec(student, student)
    assert_error(await put_enrollment(client, spec), 400, "errMsg_participantsMustDiffer")


@pytest.mark.parametrize("missing", ["studentId", "tutorUserId", "tutorProfileId", "coursePackId", "status"])
async def test_missing_fields_are_400(
    client: httpx.AsyncClient, student: User, tutor: User, missing: str
) -> None:
    spec = EnrollmentSpec(student, tutor)
    body = spec.body()
    del body[missing]
    response = await client.put(f"/v1/m2m/enrollments/{spec.id}", headers=service_headers(), json=body)
    assert_error(response, 400, f"errMsg_{missing}isRequired")


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"studentId": "s-1"}, "errMsg_studentIdisNotAValidID"),
        ({"tutorUserId": 99}, "errMsg_tutorUserIdisNotAValidID"),
        ({"tutorProfileId": None}, "errMsg_tutorProfileIdisNotAValidID"),
        ({"coursePackId": ""}, "errMsg_coursePackIdisNotAValidID"),
        ({"status": 1}, "errMsg_statusisNotValid"),
        ({"status": ""}, "errMsg_statusisNotValid"),
        ({"status": "active; drop table"}, "errMsg_statusisNotValid"),
        ({"status": "a" * 33}, "errMsg_statusisNotValid"),
        ({"courseTitle": "c" * 501}, "errMsg_courseTitleisNotValid"),
        ({"studentName": {"first": "x"}}, "errMsg_studentNameisNotValid"),
        ({"tutorName": "t\x00"}, "errMsg_tutorNameisNotValid"),
    ],
)
async def test_wrong_values_are_400_and_store_nothing(
    client: httpx.AsyncClient, student: User, tutor: User, changes: dict[str, Any], key: str
) -> None:
    spec = EnrollmentSpec(student, tutor)
    assert_error(await put_enrollment(client, spec, **changes), 400, key)
    inbox = await client.get("/v1/myconversations", headers=student.headers)
    assert inbox.json()["conversations"] == []


async def test_bad_enrollment_id_is_400(client: httpx.AsyncClient, student: User, tutor: User) -> None:
    spec = EnrollmentSpec(student, tutor)
    response = await client.put("/v1/m2m/enrollments/enr-1", headers=service_headers(), json=spec.body())
    assert_error(response, 400, "errMsg_enrollmentIdisNotAValidID")


@pytest.mark.parametrize("raw", [b"[]", b"{", b"1", b"null"])
async def test_garbage_bodies_are_400(client: httpx.AsyncClient, raw: bytes) -> None:
    response = await client.put(
        f"/v1/m2m/enrollments/{uuid.uuid4()}",
        headers={**service_headers(), "content-type": "application/json"},
        content=raw,
    )
    assert_error(response, 400)


@pytest.mark.parametrize("caller", ["student", "admin", "super_admin"])
async def test_user_tokens_are_refused(
    client: httpx.AsyncClient, student: User, tutor: User, caller: str, request: Any
) -> None:
    user: User = request.getfixturevalue(caller)
    spec = EnrollmentSpec(student, tutor)
    response = await client.put(f"/v1/m2m/enrollments/{spec.id}", headers=user.headers, json=spec.body())
    assert_error(response, 403, "errMsg_m2mTokenRequired")


async def test_no_token_is_401(client: httpx.AsyncClient, student: User, tutor: User) -> None:
    spec = EnrollmentSpec(student, tutor)
    response = await client.put(f"/v1/m2m/enrollments/{spec.id}", json=spec.body())
    assert_error(response, 401, "errMsg_loginRequired")
