"""The enrollment read model as the M2M sync route answers it."""

from __future__ import annotations

from typing import Any

from tutorhub_messaging.db.models import Enrollment
from tutorhub_messaging.db.types import iso


def enrollment_record(row: Enrollment) -> dict[str, Any]:
    return {
        "id": row.id,
        "studentId": row.student_id,
        "tutorUserId": row.tutor_user_id,
        "tutorProfileId": row.tutor_profile_id,
        "coursePackId": row.course_pack_id,
        "courseTitle": row.course_title,
        "studentName": row.student_name,
        "tutorName": row.tutor_name,
        "status": row.status,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }
