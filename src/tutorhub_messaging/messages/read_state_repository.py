"""Read state: how far each user has read each room (unread counts, the inbox)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast as typed

from sqlalchemy import Table, case
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import ReadState
from tutorhub_messaging.db.prepared import ManyRowsStatement
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.db.upsert import excluded, insert_for

_MARK_READ_MANY: dict[str, ManyRowsStatement] = {}


class ReadStateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def mark_read(self, room_id: str, user_id: str, at: datetime) -> None:
        """Move the user's read time forward to ``at``; an older time changes nothing."""
        await self.mark_read_many([(room_id, user_id, at)])

    async def mark_read_many(self, marks: Sequence[tuple[str, str, datetime]]) -> None:
        """``mark_read`` for many distinct (room, user) pairs in one statement."""
        dialect = self.session.get_bind().dialect.name
        stmt = _MARK_READ_MANY.get(dialect)
        if stmt is None:
            # Built once per dialect: it runs for every batch of hub sends.
            table = typed(Table, ReadState.__table__)
            upsert = insert_for(self.session, table)
            current = table.c.last_read_at
            newer = excluded(upsert, "last_read_at")
            upsert = upsert.on_conflict_do_update(
                index_elements=["room_id", "user_id"],
                set_={
                    "last_read_at": case((newer > current, newer), else_=current),
                    "updated_at": excluded(upsert, "updated_at"),
                },
            )
            stmt = _MARK_READ_MANY[dialect] = ManyRowsStatement(
                upsert, ["room_id", "user_id", "last_read_at", "updated_at"]
            )
        now = utcnow()
        await stmt.execute(
            await self.session.connection(),
            [{"room_id": r, "user_id": u, "last_read_at": at, "updated_at": now} for r, u, at in marks],
        )

    async def last_read_at(self, room_id: str, user_id: str) -> datetime | None:
        row = await self.session.get(ReadState, (room_id, user_id))
        return row.last_read_at if row else None
