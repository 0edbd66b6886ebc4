"""All SQL about moderation actions (block, silence) in rooms."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from functools import cache

from sqlalchemy import Select, bindparam, func, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.lists import one_of
from tutorhub_messaging.db.models import ChatModeration, Conversation
from tutorhub_messaging.db.types import UtcDateTime, utcnow


@cache
def _in_force_among(dialect: str) -> Select[ChatModeration]:
    """Built once per dialect: it runs for every batch of hub sends."""
    return select(ChatModeration).where(
        one_of(ChatModeration.room_id, "rooms", dialect),
        one_of(ChatModeration.user_id, "users", dialect),
        ChatModeration.is_active.is_(True),
        or_(
            ChatModeration.expires_at.is_(None),
            ChatModeration.expires_at > bindparam("now", type_=UtcDateTime),
        ),
    )


# Built once: every join reads it twice.
_IN_FORCE_FOR = select(ChatModeration).where(
    ChatModeration.room_id == bindparam("room"),
    ChatModeration.user_id == bindparam("user"),
    ChatModeration.is_active.is_(True),
    or_(ChatModeration.expires_at.is_(None), ChatModeration.expires_at > bindparam("now", type_=UtcDateTime)),
)


class ModerationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def in_force_for(self, room_id: str, user_id: str, now: datetime) -> list[ChatModeration]:
        rows = await self.session.scalars(_IN_FORCE_FOR, {"room": room_id, "user": user_id, "now": now})
        return list(rows)

    async def in_force_among(
        self, room_ids: Collection[str], user_ids: Collection[str], now: datetime
    ) -> list[ChatModeration]:
        """Actions in force for any of these users in any of these rooms (one query for a batch of
        sends; callers pick the (room, user) pairs they need)."""
        statement = _in_force_among(self.session.get_bind().dialect.name)
        rows = await self.session.scalars(
            statement, {"rooms": list(room_ids), "users": list(user_ids), "now": now}
        )
        return list(rows)

    async def blocked_since(self, user_id: str, now: datetime) -> dict[str, datetime]:
        """Rooms of the user's conversations where a block of theirs is in force, with the time the
        earliest of those blocks was issued. Looked up through the user's conversations (indexed by
        participant), so the cost follows the user's rooms, not the moderation table."""
        rooms = union_all(
            select(Conversation.id).where(Conversation.participant_a == user_id),
            select(Conversation.id).where(Conversation.participant_b == user_id),
        )
        stmt = (
            select(ChatModeration.room_id, func.min(ChatModeration.created_at))
            .where(
                ChatModeration.room_id.in_(rooms),
                ChatModeration.user_id == user_id,
                ChatModeration.action == "blocked",
                ChatModeration.is_active.is_(True),
                or_(ChatModeration.expires_at.is_(None), ChatModeration.expires_at > now),
            )
            .group_by(ChatModeration.room_id)
        )
        return {room_id: since for room_id, since in (await self.session.execute(stmt)).all()}

    async def add(self, action: ChatModeration) -> ChatModeration:
        self.session.add(action)
        await self.session.flush()
        return action

    async def lift(self, room_id: str, user_id: str, action: str) -> list[ChatModeration]:
        """Deactivate every active action of this kind; returns those that were active."""
        rows = list(
            await self.session.scalars(
                select(ChatModeration)
                .where(
                    ChatModeration.room_id == room_id,
                    ChatModeration.user_id == user_id,
                    ChatModeration.action == action,
                    ChatModeration.is_active.is_(True),
                )
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        )
        now = utcnow()
        for row in rows:
            row.is_active = False
            row.updated_at = now
            row.record_version += 1
        if rows:
            await self.session.flush()
        return rows
