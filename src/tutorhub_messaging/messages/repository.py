"""All SQL about chat messages and read state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import ChatMessage, ReadState
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.db.upsert import excluded, insert_for


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, message: ChatMessage) -> ChatMessage:
        self.session.add(message)
        await self.session.flush()
        return message

    async def get_active(self, message_id: str) -> ChatMessage | None:
        return await self.session.scalar(
            select(ChatMessage).where(ChatMessage.id == message_id, ChatMessage.is_active.is_(True))
        )

    async def get_active_in_room(self, room_id: str, message_id: str) -> ChatMessage | None:
        return await self.session.scalar(
            select(ChatMessage).where(
                ChatMessage.id == message_id,
                ChatMessage.room_id == room_id,
                ChatMessage.is_active.is_(True),
            )
        )

    async def find_by_client_id(
        self, room_id: str, sender_id: str, client_message_id: str
    ) -> ChatMessage | None:
        return await self.session.scalar(
            select(ChatMessage).where(
                ChatMessage.room_id == room_id,
                ChatMessage.sender_id == sender_id,
                ChatMessage.client_message_id == client_message_id,
            )
        )

    async def latest_for_room(self, room_id: str, limit: int, offset: int = 0) -> list[ChatMessage]:
        """A room's active messages, newest first."""
        rows = await self.session.scalars(
            select(ChatMessage)
            .where(ChatMessage.room_id == room_id, ChatMessage.is_active.is_(True))
            .order_by(ChatMessage.seq.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(rows)

    async def after_in_room(self, room_id: str, after_seq: int, limit: int) -> list[ChatMessage]:
        """A room's active messages stored after ``after_seq``, oldest first (gap fill on reconnect)."""
        rows = await self.session.scalars(
            select(ChatMessage)
            .where(
                ChatMessage.room_id == room_id,
                ChatMessage.is_active.is_(True),
                ChatMessage.seq > after_seq,
            )
            .order_by(ChatMessage.seq.asc())
            .limit(limit)
        )
        return list(rows)

    async def count_for_room(self, room_id: str) -> int:
        total = await self.session.scalar(
            select(func.count())
            .select_from(ChatMessage)
            .where(ChatMessage.room_id == room_id, ChatMessage.is_active.is_(True))
        )
        return int(total or 0)

    async def latest_active_in_room(self, room_id: str) -> ChatMessage | None:
        rows = await self.latest_for_room(room_id, 1)
        return rows[0] if rows else None

    async def unread_counts_for(self, user_id: str, room_ids: list[str]) -> dict[str, int]:
        """Per room: active messages from others that are newer than the user's read time."""
        if not room_ids:
            return {}
        read = ReadState.__table__.alias("r")
        stmt = (
            select(ChatMessage.room_id, func.count())
            .select_from(ChatMessage)
            .outerjoin(read, and_(read.c.room_id == ChatMessage.room_id, read.c.user_id == user_id))
            .where(
                ChatMessage.room_id.in_(room_ids),
                ChatMessage.is_active.is_(True),
                or_(ChatMessage.sender_id.is_(None), ChatMessage.sender_id != user_id),
                or_(read.c.last_read_at.is_(None), ChatMessage.timestamp > read.c.last_read_at),
            )
            .group_by(ChatMessage.room_id)
        )
        return {room_id: int(count) for room_id, count in (await self.session.execute(stmt)).all()}


class ReadStateRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def mark_read(self, room_id: str, user_id: str, at: datetime) -> None:
        """Move the user's read time forward to ``at``; an older time changes nothing."""
        stmt = insert_for(self.session, ReadState).values(
            room_id=room_id, user_id=user_id, last_read_at=at, updated_at=utcnow()
        )
        current = ReadState.__table__.c.last_read_at
        newer = excluded(stmt, "last_read_at")
        stmt = stmt.on_conflict_do_update(
            index_elements=["room_id", "user_id"],
            set_={
                "last_read_at": case((newer > current, newer), else_=current),
                "updated_at": excluded(stmt, "updated_at"),
            },
        )
        await self.session.execute(stmt)

    async def last_read_at(self, room_id: str, user_id: str) -> datetime | None:
        row = await self.session.get(ReadState, (room_id, user_id))
        return row.last_read_at if row else None
