"""All SQL about conversations (the hub's rooms)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import Conversation
from tutorhub_messaging.db.types import utcnow


class ConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_active(self, conversation_id: str) -> Conversation | None:
        """The conversation unless it does not exist or was soft-deleted (status is not checked)."""
        return await self.session.scalar(
            select(Conversation).where(Conversation.id == conversation_id, Conversation.is_active.is_(True))
        )

    async def record_last_message(self, conversation_id: str, at: datetime, preview: str) -> None:
        """Point the inbox at a new newest message (never backwards)."""
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(
                last_message_at=at,
                last_message_preview=preview,
                updated_at=utcnow(),
                record_version=Conversation.record_version + 1,
            )
        )

    async def set_last_message(self, conversation_id: str, at: datetime | None, preview: str | None) -> None:
        """Recompute-style write, used after the newest message was edited or deleted."""
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_message_at=at, last_message_preview=preview, updated_at=utcnow())
        )
