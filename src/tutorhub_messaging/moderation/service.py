"""Moderation actions: what is in force for a user in a room, and applying or lifting one."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import MODERATION_ACTIONS, ChatModeration
from tutorhub_messaging.db.types import iso, utcnow
from tutorhub_messaging.errors import Blocked, InvalidInput, Silenced
from tutorhub_messaging.moderation.repository import ModerationRepository
from tutorhub_messaging.outbox import CHAT_MODERATION_CREATED, CHAT_MODERATION_DELETED, record

BLOCKED = "blocked"
SILENCED = "silenced"
MAX_DURATION_SECONDS = 10 * 365 * 24 * 3600
MAX_REASON_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class InForce:
    blocked: ChatModeration | None
    silenced: ChatModeration | None


def _in_force_of(actions: Iterable[ChatModeration]) -> InForce:
    by_kind = {a.action: a for a in actions}
    return InForce(by_kind.get(BLOCKED), by_kind.get(SILENCED))


NOTHING_IN_FORCE = InForce(None, None)


async def in_force(session: AsyncSession, room_id: str, user_id: str) -> InForce:
    """The block and silence that apply now; an expired action no longer applies."""
    return _in_force_of(await ModerationRepository(session).in_force_for(room_id, user_id, utcnow()))


async def in_force_for_pairs(
    session: AsyncSession, pairs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], InForce]:
    """``in_force`` for many (room, user) pairs in one query; pairs with nothing in force are absent."""
    if not pairs:
        return {}
    rows = await ModerationRepository(session).in_force_among(
        {room for room, _ in pairs}, {user for _, user in pairs}, utcnow()
    )
    grouped: dict[tuple[str, str], list[ChatModeration]] = {}
    for row in rows:
        if (row.room_id, row.user_id) in pairs:
            grouped.setdefault((row.room_id, row.user_id), []).append(row)
    return {pair: _in_force_of(actions) for pair, actions in grouped.items()}


def check_state_may_speak(state: InForce) -> None:
    if state.blocked is not None:
        raise Blocked("You are blocked in this room")
    if state.silenced is not None:
        raise Silenced("You are silenced in this room")


async def check_not_blocked(session: AsyncSession, room_id: str, user_id: str) -> None:
    if (await in_force(session, room_id, user_id)).blocked is not None:
        raise Blocked("You are blocked in this room")


async def check_may_speak(session: AsyncSession, room_id: str, user_id: str) -> None:
    check_state_may_speak(await in_force(session, room_id, user_id))


def check_duration(value: Any) -> int:
    """Seconds; 0 or absent means permanent."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_DURATION_SECONDS:
        raise InvalidInput(
            f"duration must be whole seconds between 0 and {MAX_DURATION_SECONDS}",
            key="errMsg_durationIsNotValid",
        )
    return value


def check_reason(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_REASON_LENGTH:
        raise InvalidInput(
            f"reason must be text of at most {MAX_REASON_LENGTH} characters",
            key="errMsg_reasonIsNotValid",
        )
    return value


async def apply_action(
    session: AsyncSession,
    *,
    room_id: str,
    user_id: str,
    action: str,
    reason: str | None,
    duration: int,
    issued_by: str,
) -> ChatModeration:
    """Record a block or silence; it replaces any earlier one of the same kind (which is lifted:
    ``chatModeration.deleted``, then ``chatModeration.created``)."""
    assert action in MODERATION_ACTIONS
    repository = ModerationRepository(session)
    _record_lifted(session, await repository.lift(room_id, user_id, action))
    now = utcnow()
    expires_at: datetime | None = now + timedelta(seconds=duration) if duration else None
    added = await repository.add(
        ChatModeration(
            id=str(uuid.uuid4()),
            room_id=room_id,
            user_id=user_id,
            action=action,
            action_idx=MODERATION_ACTIONS.index(action),
            reason=reason,
            duration=duration,
            expires_at=expires_at,
            issued_by=issued_by,
            is_active=True,
            record_version=0,
            created_at=now,
            updated_at=now,
            owner=issued_by,
        )
    )
    record(session, type=CHAT_MODERATION_CREATED, aggregate_id=room_id, data=moderation_record(added))
    return added


async def lift_action(session: AsyncSession, *, room_id: str, user_id: str, action: str) -> bool:
    lifted = await ModerationRepository(session).lift(room_id, user_id, action)
    _record_lifted(session, lifted)
    return bool(lifted)


def _record_lifted(session: AsyncSession, lifted: Iterable[ChatModeration]) -> None:
    for row in lifted:
        record(session, type=CHAT_MODERATION_DELETED, aggregate_id=row.room_id, data=moderation_record(row))


def moderation_record(row: ChatModeration) -> dict[str, Any]:
    return {
        "id": row.id,
        "roomId": row.room_id,
        "userId": row.user_id,
        "action": row.action,
        "action_idx": row.action_idx,
        "reason": row.reason,
        "duration": row.duration,
        "expiresAt": iso(row.expires_at),
        "issuedBy": row.issued_by,
        "isActive": row.is_active,
        "recordVersion": row.record_version,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
        "_owner": row.owner,
    }
