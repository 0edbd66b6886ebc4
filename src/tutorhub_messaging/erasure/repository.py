"""All SQL of erasing a user: reads in batches, and the rows that go."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Text, and_, cast, delete, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import ChatMessage, Conversation, DirectoryUser, Enrollment, ReadState


def _has_reply() -> object:
    # A missing reply is stored either as SQL NULL or as JSON null, depending on the writer.
    column = ChatMessage.reply_to
    return not_(or_(column.is_(None), cast(column, Text) == "null"))


class ErasureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def messages_of(self, user_id: str, *, after_seq: int, limit: int) -> list[ChatMessage]:
        """The user's messages (active or not) after ``after_seq``, oldest first, locked."""
        rows = await self.session.scalars(
            select(ChatMessage)
            .where(ChatMessage.sender_id == user_id, ChatMessage.seq > after_seq)
            .order_by(ChatMessage.seq)
            .limit(limit)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return list(rows)

    async def replies_in_room(self, room_id: str, *, after_seq: int, limit: int) -> list[ChatMessage]:
        """A room's messages that quote another, after ``after_seq``, oldest first, locked."""
        rows = await self.session.scalars(
            select(ChatMessage)
            .where(ChatMessage.room_id == room_id, ChatMessage.seq > after_seq, _has_reply())  # type: ignore[arg-type]
            .order_by(ChatMessage.seq)
            .limit(limit)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return list(rows)

    def release(self, rows: Sequence[object]) -> None:
        """Forget rows already written, so a long erasure holds one batch in memory at a time."""
        for row in rows:
            self.session.expunge(row)

    async def conversations_of(self, user_id: str, room_ids: Sequence[str]) -> list[Conversation]:
        """The user's conversations (as a participant), and the rooms they wrote in, locked."""
        condition = or_(Conversation.participant_a == user_id, Conversation.participant_b == user_id)
        if room_ids:
            condition = or_(condition, Conversation.id.in_(room_ids))
        rows = await self.session.scalars(
            select(Conversation)
            .where(condition)
            .order_by(Conversation.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return list(rows)

    async def read_states_of(self, user_id: str) -> list[tuple[str, datetime]]:
        rows = await self.session.execute(
            select(ReadState.room_id, ReadState.last_read_at)
            .where(ReadState.user_id == user_id)
            .order_by(ReadState.room_id)
        )
        return [(room_id, at) for room_id, at in rows]

    async def delete_read_states(self, user_id: str) -> None:
        await self.session.execute(delete(ReadState).where(ReadState.user_id == user_id))

    async def delete_directory_row(self, user_id: str) -> bool:
        result = await self.session.execute(delete(DirectoryUser).where(DirectoryUser.id == user_id))
        return bool(getattr(result, "rowcount", 0))

    async def clear_enrollment_names(self, user_id: str, now: datetime) -> None:
        """The enrollment read model keeps the names the enrollment service sent: forget the user's."""
        await self.session.execute(
            update(Enrollment)
            .where(and_(Enrollment.student_id == user_id, Enrollment.student_name.is_not(None)))
            .values(student_name=None, updated_at=now)
        )
        await self.session.execute(
            update(Enrollment)
            .where(and_(Enrollment.tutor_user_id == user_id, Enrollment.tutor_name.is_not(None)))
            .values(tutor_name=None, updated_at=now)
        )
