"""The conversation record as the REST guide shows it, and the enrollment summary it may carry."""

from __future__ import annotations

from typing import Any

from tutorhub_messaging.db.models import CONVERSATION_STATUSES, CONVERSATION_TYPES, Conversation, Enrollment
from tutorhub_messaging.db.types import iso


def conversation_record(row: Conversation) -> dict[str, Any]:
    return {
        "id": row.id,
        "conversationType": row.conversation_type,
        "conversationType_idx": CONVERSATION_TYPES.index(row.conversation_type),
        "participantA": row.participant_a,
        "participantB": row.participant_b,
        "enrollmentId": row.enrollment_id,
        "lastMessageAt": iso(row.last_message_at),
        "lastMessagePreview": row.last_message_preview,
        "status": row.status,
        "status_idx": CONVERSATION_STATUSES.index(row.status),
        "participantAName": row.participant_a_name,
        "participantBName": row.participant_b_name,
        "courseTitle": row.course_title,
        "isActive": row.is_active,
        "recordVersion": row.record_version,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "_owner": row.owner,
    }


def enrollment_summary(enrollment: Enrollment | None) -> dict[str, Any] | None:
    """What a conversation shows of its enrollment: ``{coursePackId, studentId, tutorProfileId}``."""
    if enrollment is None:
        return None
    return {
        "coursePackId": enrollment.course_pack_id,
        "studentId": enrollment.student_id,
        "tutorProfileId": enrollment.tutor_profile_id,
    }
