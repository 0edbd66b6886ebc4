"""Participants' names in conversations come from the user directory: filled as soon as it knows a
user (conversations created earlier included), following name changes, and never set by the other
party."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import event

from tests.support.conversations import (
    EnrollmentSpec,
    open_student_tutor,
    store_enrollment_row,
)
from tests.support.users import User, service_headers


async def inbox_entry(client: httpx.AsyncClient, user: User, conversation_id: str) -> dict[str, Any]:
    response = await client.get("/v1/myconversations", headers=user.headers)
    assert response.status_code == 200, response.text
    [entry] = [c for c in response.json()["conversations"] if c["id"] == conversation_id]
    return entry


async def test_names_are_filled_once_the_directory_knows_the_users(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    # The enrollment service opens the conversation before either user has called the service.
    conversation = await open_student_tutor(client, EnrollmentSpec(student, tutor))
    assert (conversation["participantAName"], conversation["participantBName"]) == (None, None)

    entry = await inbox_entry(client, student, conversation["id"])  # the student's call: now known
    assert (entry["participantAName"], entry["participantBName"]) == (student.fullname, None)

    await client.get("/v1/myconversations", headers=tutor.headers)
    entry = await inbox_entry(client, student, conversation["id"])
    assert (entry["participantAName"], entry["participantBName"]) == (student.fullname, tutor.fullname)
    got = await client.get(f"/v1/conversations/{conversation['id']}", headers=tutor.headers)
    assert got.json()["conversation"]["participantBName"] == tutor.fullname


async def test_names_follow_a_users_name_change(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    conversation = await open_student_tutor(client, EnrollmentSpec(student, tutor))
    await inbox_entry(client, tutor, conversation["id"])
    tutor.fullname = "Dr. Tara Tutor"  # the next token carries the new name
    entry = await inbox_entry(client, tutor, conversation["id"])
    assert entry["participantBName"] == "Dr. Tara Tutor"
    other = await inbox_entry(client, student, conversation["id"])
    assert other["participantBName"] == "Dr. Tara Tutor"


async def test_names_from_the_user_service_reach_existing_conversations(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    conversation = await open_student_tutor(client, EnrollmentSpec(student, tutor))
    response = await client.put(
        f"/v1/m2m/users/{tutor.id}", headers=service_headers("userService"), json={"fullname": "Tara T."}
    )
    assert response.status_code in (200, 201), response.text
    entry = await inbox_entry(client, student, conversation["id"])
    assert entry["participantBName"] == "Tara T."


async def test_a_participant_cannot_name_the_other_party(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    await client.get("/v1/myconversations", headers=student.headers)
    spec = EnrollmentSpec(student, tutor)
    await store_enrollment_row(app.context.db, spec)
    body = {
        "conversationType": "studentTutor",
        "participantA": student.id,
        "participantB": tutor.id,
        "enrollmentId": spec.id,
        "participantAName": "TutorHub Support (verified)",
        "participantBName": "Also Made Up",
    }
    response = await client.post("/v1/conversations", headers=tutor.headers, json=body)
    assert response.status_code == 201, response.text
    record = response.json()["conversation"]
    assert record["participantAName"] == student.fullname  # from the directory, not the body
    assert record["participantBName"] == tutor.fullname  # the caller's own token name


async def test_an_admin_may_name_the_participants(
    client: httpx.AsyncClient, admin: User, student: User
) -> None:
    body = {
        "conversationType": "adminStudent",
        "participantA": admin.id,
        "participantB": student.id,
        "participantAName": "Moderation Team",
        "participantBName": "Pupil",
    }
    response = await client.post("/v1/conversations", headers=admin.headers, json=body)
    assert response.status_code == 201, response.text
    record = response.json()["conversation"]
    assert (record["participantAName"], record["participantBName"]) == ("Moderation Team", "Pupil")


async def test_calls_arriving_together_write_a_users_directory_row_once(
    app: Any, client: httpx.AsyncClient, student: User
) -> None:
    """Twenty sockets or requests of one new user at once: one write of their row, not one each
    (each would hold a database connection, queued on the same row's lock)."""
    writes: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "directory_user" in statement and statement.lstrip().upper().startswith("INSERT"):
            writes.append(statement)

    engine = app.context.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        answers = await asyncio.gather(
            *(client.get("/v1/myconversations", headers=student.headers) for _ in range(10))
        )
    finally:
        event.remove(engine, "before_cursor_execute", count)

    assert [answer.status_code for answer in answers] == [200] * 10
    assert len(writes) == 1
