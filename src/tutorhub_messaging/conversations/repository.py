"""All SQL about conversations (the hub's rooms)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple, cast

from sqlalchemy import Select, Table, bindparam, func, select, union_all, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.lists import one_of
from tutorhub_messaging.db.models import Conversation
from tutorhub_messaging.db.prepared import ManyRowsStatement
from tutorhub_messaging.db.types import utcnow


@dataclass(frozen=True, slots=True)
class LastMessage:
    conversation_id: str
    at: datetime
    preview: str
    updated_at: datetime
    count: int  # messages stored for this conversation since its last update


class ConversationKey(NamedTuple):
    id: str
    conversation_type: str
    participant_a: str
    participant_b: str
    status: str
    enrollment_id: str | None


_TABLE = cast(Table, Conversation.__table__)
# Built once: these run for every batch of hub sends.


@cache
def _active_many(dialect: str) -> Select[Any]:
    return select(*(_TABLE.c[name] for name in ConversationKey._fields)).where(
        one_of(_TABLE.c.id, "ids", dialect), _TABLE.c.is_active.is_(True)
    )


# Every join and REST call on a room reads it.
_GET_ACTIVE = select(Conversation).where(Conversation.id == bindparam("id"), Conversation.is_active.is_(True))

_RECORD_LAST_MESSAGES = ManyRowsStatement(
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("b_id"))
    .values(
        last_message_at=bindparam("b_at"),
        last_message_preview=bindparam("b_preview"),
        updated_at=bindparam("b_updated"),
        record_version=_TABLE.c.record_version + bindparam("b_count"),
    ),
    ["b_id", "b_at", "b_preview", "b_updated", "b_count"],
)


class ConversationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_active(self, conversation_id: str) -> Conversation | None:
        """The conversation unless it does not exist or was soft-deleted (status is not checked)."""
        return await self.session.scalar(_GET_ACTIVE, {"id": conversation_id})

    async def get_active_many(self, conversation_ids: Collection[str]) -> list[ConversationKey]:
        """The rooms' key fields (what hub access needs), without loading whole ORM objects: this
        runs for every batch of sends."""
        connection = await self.session.connection()
        statement = _active_many(connection.dialect.name)
        rows = await connection.execute(statement, {"ids": list(conversation_ids)})
        return [ConversationKey(*row) for row in rows]

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

    async def record_last_messages(self, latest: Sequence[LastMessage]) -> None:
        """``record_last_message`` for many conversations in one statement (a batch of sends):
        each moves to its newest message, and its version by the number of messages it got."""
        await _RECORD_LAST_MESSAGES.execute(
            await self.session.connection(),
            [
                {
                    "b_id": entry.conversation_id,
                    "b_at": entry.at,
                    "b_preview": entry.preview,
                    "b_updated": entry.updated_at,
                    "b_count": entry.count,
                }
                for entry in latest
            ],
        )

    async def set_last_message(self, conversation_id: str, at: datetime | None, preview: str | None) -> None:
        """Recompute-style write, used after the newest message was edited or deleted."""
        await self.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation_id)
            .values(last_message_at=at, last_message_preview=preview, updated_at=utcnow())
        )

    async def get_by_key(
        self, conversation_type: str, participant_a: str, participant_b: str, *, lock: bool = False
    ) -> Conversation | None:
        """The one conversation of (type, A, B), soft-deleted or not (the key is unique over both).

        With ``lock`` the row stays locked until the unit of work ends (PostgreSQL; SQLite
        serialises units of work anyway), so concurrent enrollment syncs of one pair queue up.
        """
        stmt = select(Conversation).where(
            Conversation.conversation_type == conversation_type,
            Conversation.participant_a == participant_a,
            Conversation.participant_b == participant_b,
        )
        if lock:
            stmt = stmt.with_for_update()
        return await self.session.scalar(stmt.execution_options(populate_existing=True))

    async def add_unique(self, conversation: Conversation) -> bool:
        """Insert; False when a concurrent unit of work stored the same (type, A, B) first."""
        try:
            async with self.session.begin_nested():
                self.session.add(conversation)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def change(self, conversation: Conversation, **values: Any) -> bool:
        """Apply the values that differ; a real change bumps ``recordVersion`` and ``updatedAt``."""
        changed = {name: value for name, value in values.items() if getattr(conversation, name) != value}
        if not changed:
            return False
        for name, value in changed.items():
            setattr(conversation, name, value)
        conversation.record_version += 1
        conversation.updated_at = utcnow()
        await self.session.flush()
        return True

    async def reload(self, conversation: Conversation) -> Conversation:
        """Re-read a row that statement-level updates (``record_last_message``) changed."""
        await self.session.refresh(conversation)
        return conversation

    def _ids_of_participant(self, user_id: str) -> Any:
        # Two equality lookups, one per participant index, instead of an OR the planner may scan for.
        return union_all(
            select(Conversation.id).where(
                Conversation.participant_a == user_id, Conversation.is_active.is_(True)
            ),
            select(Conversation.id).where(
                Conversation.participant_b == user_id, Conversation.is_active.is_(True)
            ),
        ).subquery("mine")

    async def inbox_page(self, user_id: str, *, limit: int | None, offset: int) -> list[Conversation]:
        """The user's conversations, newest message first; never-messaged ones last, newest first."""
        mine = self._ids_of_participant(user_id)
        stmt = (
            select(Conversation)
            .join(mine, mine.c.id == Conversation.id)
            .order_by(
                Conversation.last_message_at.is_(None),
                Conversation.last_message_at.desc(),
                Conversation.created_at.desc(),
                Conversation.id.desc(),
            )
            .offset(offset)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(await self.session.scalars(stmt))

    async def inbox_size(self, user_id: str) -> int:
        mine = self._ids_of_participant(user_id)
        return int(await self.session.scalar(select(func.count()).select_from(mine)) or 0)
