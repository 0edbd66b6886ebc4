"""What a participant blocked in a room sees of it: the room as it stood when the block was issued.

A block stops a user reading a room (history, joins, message reads). Conversation records must not
leak what they can no longer read, so for a blocked participant ``lastMessageAt`` and
``lastMessagePreview`` stop at the newest message stored before the block (as it reads now: an
edit or delete of it still shows), ``unreadCount`` counts only messages stored before the block,
and the inbox orders the room by that frozen time. Once the block is lifted or expires, the room
shows as everyone else sees it. Only the caller's own blocks matter: an admin reading another
user's conversation sees it whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.types import iso, utcnow
from tutorhub_messaging.hub.definition import HubDefinition
from tutorhub_messaging.messages.content import preview_of
from tutorhub_messaging.messages.repository import MessageRepository
from tutorhub_messaging.moderation.repository import ModerationRepository


@dataclass(frozen=True, slots=True)
class FrozenRoom:
    since: datetime  # when the earliest block in force was issued
    last_message_at: datetime | None
    last_message_preview: str | None
    unread: int

    def apply(self, record: dict[str, Any]) -> dict[str, Any]:
        record["lastMessageAt"] = iso(self.last_message_at)
        record["lastMessagePreview"] = self.last_message_preview
        if "unreadCount" in record:
            record["unreadCount"] = self.unread
        return record


async def blocked_since(session: AsyncSession, user_id: str) -> dict[str, datetime]:
    """The user's rooms with a block of theirs in force, and since when (usually none)."""
    return await ModerationRepository(session).blocked_since(user_id, utcnow())


async def frozen_rooms(
    session: AsyncSession, definition: HubDefinition, user_id: str, blocks: dict[str, datetime]
) -> dict[str, FrozenRoom]:
    messages = MessageRepository(session)
    frozen: dict[str, FrozenRoom] = {}
    for room_id, since in blocks.items():
        latest = await messages.latest_active_until(room_id, since)
        preview = None
        if latest is not None:
            message_type = definition.message_types.get(latest.message_type)
            preview = preview_of(message_type, latest.content) if message_type else ""
        unread = await messages.unread_counts_for(user_id, [room_id], until=since)
        frozen[room_id] = FrozenRoom(
            since,
            latest.timestamp if latest is not None else None,
            preview,
            unread.get(room_id, 0),
        )
    return frozen
