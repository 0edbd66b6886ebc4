"""Loading a hub's room object, and checking a caller's access to it (raising the hub's codes)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.conversations.repository import ConversationKey, ConversationRepository
from tutorhub_messaging.db.models import Conversation
from tutorhub_messaging.errors import Forbidden, InvalidInput, RoomNotEligible, RoomNotFound
from tutorhub_messaging.hub.engine import HubEngine, RoomAccess
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.identity.tokens import UUID_RE

RoomLoader = Callable[[AsyncSession, str], Awaitable[Mapping[str, Any] | None]]
RoomBatchLoader = Callable[[AsyncSession, Collection[str]], Awaitable[dict[str, Mapping[str, Any]]]]


def _room_of(row: Conversation | ConversationKey) -> Mapping[str, Any]:
    """The conversation as the hub rules see it: the guide's field names."""
    return {
        "id": row.id,
        "conversationType": row.conversation_type,
        "participantA": row.participant_a,
        "participantB": row.participant_b,
        "status": row.status,
        "enrollmentId": row.enrollment_id,
    }


async def load_conversation(session: AsyncSession, room_id: str) -> Mapping[str, Any] | None:
    row = await ConversationRepository(session).get_active(room_id)
    return None if row is None else _room_of(row)


async def load_conversations(
    session: AsyncSession, room_ids: Collection[str]
) -> dict[str, Mapping[str, Any]]:
    """Many rooms in one query (a batch of sends); missing or deleted ones are absent."""
    rows = await ConversationRepository(session).get_active_many(room_ids)
    return {row.id: _room_of(row) for row in rows}


# Room objects a hub definition may name: one room, and many at once.
ROOM_LOADERS: dict[str, RoomLoader] = {"conversation": load_conversation}
ROOM_BATCH_LOADERS: dict[str, RoomBatchLoader] = {"conversation": load_conversations}


def check_room_id(value: Any) -> str:
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise InvalidInput("roomId must be a valid room id", key="errMsg_roomIdisNotAValidID")
    return value.lower()


async def access_room(
    session: AsyncSession,
    engine: HubEngine,
    principal: Principal,
    room_id: Any,
    *,
    require_eligible: bool = True,
) -> RoomAccess:
    """The caller's access to a room, or the hub error a client should see.

    Order matters for what a stranger learns: a room that exists but is not theirs answers
    NOT_AUTHORIZED whatever its status, so only participants learn that a room is closed.
    """
    room_id = check_room_id(room_id)
    loader = ROOM_LOADERS[engine.definition.room_object]
    return check_access(engine, principal, room_id, await loader(session, room_id), require_eligible)


def check_access(
    engine: HubEngine,
    principal: Principal,
    room_id: str,
    room: Mapping[str, Any] | None,
    require_eligible: bool = True,
) -> RoomAccess:
    """``access_room`` once the room is loaded (or known not to exist)."""
    if room is None:
        raise RoomNotFound("Room not found")
    access = engine.access(principal, room_id, room)
    if access is None:
        raise Forbidden("You are not authorized to join this room")
    if require_eligible and not access.eligible:
        raise RoomNotEligible("Room is not eligible for realtime chat")
    return access
