"""Set-up for conversation tests: enrollments over the real M2M route, stored messages, error checks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.users import User, service_headers
from tutorhub_messaging.db.database import Database
from tutorhub_messaging.enrollments.repository import EnrollmentRepository, EnrollmentValues
from tutorhub_messaging.messages.service import NewMessage, Sender, store_message


@dataclass
class EnrollmentSpec:
    student: User
    tutor: User
    status: str = "active"
    course_title: str | None = "Algebra I"
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    tutor_profile_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    course_pack_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def body(self, **changes: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "studentId": self.student.id,
            "tutorUserId": self.tutor.id,
            "tutorProfileId": self.tutor_profile_id,
            "coursePackId": self.course_pack_id,
            "courseTitle": self.course_title,
            "status": self.status,
        }
        body.update(changes)
        return body


async def put_enrollment(client: httpx.AsyncClient, spec: EnrollmentSpec, **changes: Any) -> httpx.Response:
    return await client.put(
        f"/v1/m2m/enrollments/{spec.id}", headers=service_headers("enrollment"), json=spec.body(**changes)
    )


async def open_student_tutor(client: httpx.AsyncClient, spec: EnrollmentSpec) -> dict[str, Any]:
    """Activate the enrollment (which opens the pair's conversation) and return that conversation."""
    response = await put_enrollment(client, spec, status="active")
    assert response.status_code in (200, 201), response.text
    conversation: dict[str, Any] = response.json()["conversation"]
    return conversation


async def open_admin_channel(
    client: httpx.AsyncClient, admin: User, target: User, conversation_type: str = "adminStudent"
) -> dict[str, Any]:
    response = await client.post(
        "/v1/conversations",
        headers=admin.headers,
        json={"conversationType": conversation_type, "participantA": admin.id, "participantB": target.id},
    )
    assert response.status_code == 201, response.text
    conversation: dict[str, Any] = response.json()["conversation"]
    return conversation


async def store_enrollment_row(db: Database, spec: EnrollmentSpec) -> None:
    """Write the read model directly, as an older deployment would have left it (no conversation)."""
    async with db.unit_of_work() as uow:
        await EnrollmentRepository(uow.session).upsert(
            EnrollmentValues(
                id=spec.id,
                student_id=spec.student.id,
                tutor_user_id=spec.tutor.id,
                tutor_profile_id=spec.tutor_profile_id,
                course_pack_id=spec.course_pack_id,
                course_title=spec.course_title,
                student_name=None,
                tutor_name=None,
                status=spec.status,
            )
        )


async def store_text(app: Any, room_id: str, sender: User, body: str = "hello") -> dict[str, Any]:
    """Store a text message through the service's one store path."""
    context = app.context
    async with context.db.unit_of_work() as uow:
        stored = await store_message(
            uow,
            context.notifier,
            context.message_rules,
            room_id=room_id,
            sender=Sender(sender.id, sender.fullname, sender.avatar),
            new=NewMessage(message_type="text", content={"body": body}),
        )
    return stored.record


def assert_error(response: httpx.Response, status: int, key: str | None = None) -> dict[str, Any]:
    """The Mindbricks error envelope with this status (and ``errMsg_...`` key, when given)."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["result"] == "ERR"
    assert body["status"] == status
    assert body["errCode"] == status
    assert body["date"].endswith("Z")
    if key is not None:
        assert body["message"] == key, body
    return body
