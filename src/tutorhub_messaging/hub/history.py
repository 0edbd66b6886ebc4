"""What a joining socket is told about a room's past: ``hub:history`` and the catch-up after it.

A join reads the history before the socket enters the Socket.IO room (so no live message can
reach the client before ``hub:joined``/``hub:history``), then reads once more after entering it:
anything stored in between is delivered as ``hub:messageArrived`` instead of being lost. The
anchor is the internal insertion order (``seq``), never a timestamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import ChatMessage
from tutorhub_messaging.errors import InvalidInput
from tutorhub_messaging.messages.repository import MessageEditing, MessageRepository
from tutorhub_messaging.messages.serializers import message_record


@dataclass(frozen=True, slots=True)
class History:
    records: list[dict[str, Any]]
    # Catch up on messages stored after this seq once the socket is in the room; None when the
    # client should page on over REST instead (an ``after`` page that came back full).
    anchor: int | None


async def read_history(session: AsyncSession, room_id: str, limit: int, after: str | None) -> History:
    """The latest ``limit`` active messages newest first, or with ``after`` the ones stored after
    that message oldest first."""
    messages = MessageRepository(session)
    if after is None:
        rows = await messages.latest_for_room(room_id, limit)
        return History([message_record(r) for r in rows], rows[0].seq if rows else 0)
    # Deleted or not, as over REST: the client may resume after a message deleted since.
    start = await MessageEditing(session).seq_in_room(room_id, after)
    if start is None:
        raise InvalidInput("after must name a message of this room", key="errMsg_afterIsNotValid")
    rows = await messages.after_in_room(room_id, start, limit)
    if len(rows) >= limit:
        return History([message_record(r) for r in rows], None)
    return History([message_record(r) for r in rows], rows[-1].seq if rows else start)


async def missed_since(session: AsyncSession, room_id: str, anchor: int, limit: int) -> list[ChatMessage]:
    """Active messages stored after ``anchor``, oldest first."""
    return await MessageRepository(session).after_in_room(room_id, anchor, limit)


def arrival_of(message: ChatMessage) -> dict[str, Any]:
    """A stored message as ``hub:messageArrived`` carries it."""
    return {
        "roomId": message.room_id,
        "sender": {"id": message.sender_id, "fullname": message.sender_name, "avatar": message.sender_avatar},
        "message": message_record(message),
    }
