"""Reading a hub room over REST: its message history and whether it is eligible for realtime.

History stays readable for a room's participants after the room is closed (a closed tutoring
conversation is still worth re-reading); only blocked users and non-participants are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.errors import Forbidden, InvalidInput, invalid_id
from tutorhub_messaging.hub.definition import HubDefinition
from tutorhub_messaging.hub.engine import HubEngine, RoomAccess
from tutorhub_messaging.hub.rooms import access_room
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.identity.tokens import UUID_RE
from tutorhub_messaging.messages.repository import MessageEditing, MessageRepository
from tutorhub_messaging.messages.serializers import message_record
from tutorhub_messaging.moderation.service import check_not_blocked

DEFAULT_LIMIT = 50
MAX_LIMIT = 100
MAX_OFFSET = 1_000_000


@dataclass(frozen=True, slots=True)
class HistoryPage:
    records: list[dict[str, Any]]
    limit: int
    offset: int
    total: int


async def access_room_history(
    session: AsyncSession, hub: HubDefinition, principal: Principal, room_id: Any
) -> RoomAccess:
    """The caller's access to a room's messages: open or closed, but not when blocked."""
    access = await access_room(session, HubEngine(hub), principal, room_id, require_eligible=False)
    if not access.permissions.read:
        raise Forbidden("Your role in this room cannot read its messages")
    await check_not_blocked(session, access.room_id, principal.user_id)
    return access


def check_after_id(value: Any) -> str:
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise invalid_id("after")
    return value.lower()


async def room_messages(
    session: AsyncSession, room_id: str, *, limit: int, offset: int = 0, after: str | None = None
) -> HistoryPage:
    """A room's active messages: newest first, or with ``after`` the ones stored after that
    message, oldest first (how a reconnecting client fills its gap). No permission check here."""
    if after is None:
        messages = MessageRepository(session)
        rows = await messages.latest_for_room(room_id, limit, offset)
        total = await messages.count_for_room(room_id)
    else:
        editing = MessageEditing(session)
        after_seq = await editing.seq_in_room(room_id, check_after_id(after))
        if after_seq is None:
            raise InvalidInput("after must name a message of this room", key="errMsg_afterIsNotValid")
        rows = await MessageRepository(session).after_in_room(room_id, after_seq, limit, offset)
        total = await editing.count_after_in_room(room_id, after_seq)
    return HistoryPage([message_record(row) for row in rows], limit, offset, total)


async def read_room_history(
    session: AsyncSession,
    hub: HubDefinition,
    principal: Principal,
    room_id: Any,
    *,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    after: str | None = None,
) -> HistoryPage:
    access = await access_room_history(session, hub, principal, room_id)
    return await room_messages(session, access.room_id, limit=limit, offset=offset, after=after)


async def room_eligibility(
    session: AsyncSession, hub: HubDefinition, principal: Principal, room_id: Any
) -> bool:
    """Whether a room the caller may access supports realtime chat now (its status, not the
    caller's moderation state)."""
    access = await access_room(session, HubEngine(hub), principal, room_id, require_eligible=False)
    return access.eligible
