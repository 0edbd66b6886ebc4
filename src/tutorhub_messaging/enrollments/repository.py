"""All SQL about the enrollment read model (written only by the enrollment service, over M2M)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import Enrollment
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.db.upsert import excluded, insert_for

ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class EnrollmentValues:
    """An enrollment as the enrollment service reports it; every field replaces the stored one."""

    id: str
    student_id: str
    tutor_user_id: str
    tutor_profile_id: str
    course_pack_id: str
    course_title: str | None
    student_name: str | None
    tutor_name: str | None
    status: str


_REPLACED = (
    "student_id",
    "tutor_user_id",
    "tutor_profile_id",
    "course_pack_id",
    "course_title",
    "student_name",
    "tutor_name",
    "status",
    "updated_at",
)


class EnrollmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, enrollment_id: str) -> Enrollment | None:
        return await self.session.get(Enrollment, enrollment_id)

    async def get_many(self, enrollment_ids: list[str]) -> dict[str, Enrollment]:
        if not enrollment_ids:
            return {}
        rows = await self.session.scalars(select(Enrollment).where(Enrollment.id.in_(enrollment_ids)))
        return {row.id: row for row in rows}

    async def upsert(self, values: EnrollmentValues) -> Enrollment:
        """Insert or replace the enrollment, and return the stored row."""
        now = utcnow()
        stmt = insert_for(self.session, Enrollment).values(
            **asdict(values),
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["id"], set_={name: excluded(stmt, name) for name in _REPLACED}
        )
        await self.session.execute(stmt)
        row = await self.session.get(Enrollment, values.id, populate_existing=True)
        assert row is not None
        return row

    async def active_for_pair(self, student_id: str, tutor_user_id: str) -> list[Enrollment]:
        """The pair's active enrollments, most recently updated first."""
        rows = await self.session.scalars(
            select(Enrollment)
            .where(
                Enrollment.student_id == student_id,
                Enrollment.tutor_user_id == tutor_user_id,
                Enrollment.status == ACTIVE,
            )
            .order_by(Enrollment.updated_at.desc(), Enrollment.id)
        )
        return list(rows)
