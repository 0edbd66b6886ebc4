"""Moderation over the hub: ``hub:block``, ``hub:unblock``, ``hub:silence``, ``hub:unsilence``.

Only a hub role with ``moderate`` may use them (the ``system`` role of absolute roles); the
moderator need not have joined the room. Actions are stored by ``moderation.service`` (with
``expiresAt`` when a duration is given) and take effect after they commit: a block removes the
target's sockets from the room, and every socket of the target is told.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.errors import InvalidInput, ModerateNotAllowed
from tutorhub_messaging.hub.membership import OK, remove_user
from tutorhub_messaging.hub.protocol import (
    BLOCKED,
    SILENCED,
    UNBLOCKED,
    UNSILENCED,
    ModerationRequest,
    parse_moderation,
)
from tutorhub_messaging.hub.rooms import access_room
from tutorhub_messaging.hub.runtime import Connection, HubRuntime
from tutorhub_messaging.moderation import service as moderation


async def _authorize(
    session: AsyncSession, hub: HubRuntime, connection: Connection, request: ModerationRequest
) -> str:
    """The room id, once the caller may moderate it. Closed rooms can be moderated too."""
    principal = connection.principal
    access = await access_room(session, hub.engine, principal, request.room_id, require_eligible=False)
    if not access.permissions.moderate:
        raise ModerateNotAllowed("Your role in this room cannot moderate it")
    if request.user_id == principal.user_id:
        raise InvalidInput("You cannot moderate yourself", key="errMsg_userIdIsNotValid")
    return access.room_id


async def _apply(
    hub: HubRuntime, connection: Connection, data: Any, action: str
) -> tuple[str, ModerationRequest]:
    request = parse_moderation(data, with_terms=True)
    async with hub.context.db.unit_of_work() as uow:
        room_id = await _authorize(uow.session, hub, connection, request)
        await moderation.apply_action(
            uow.session,
            room_id=room_id,
            user_id=request.user_id,
            action=action,
            reason=request.reason,
            duration=request.duration,
            issued_by=connection.principal.user_id,
        )
    return room_id, request


async def _lift(hub: HubRuntime, connection: Connection, data: Any, action: str) -> tuple[str, str, bool]:
    request = parse_moderation(data, with_terms=False)
    async with hub.context.db.unit_of_work() as uow:
        room_id = await _authorize(uow.session, hub, connection, request)
        lifted = await moderation.lift_action(
            uow.session, room_id=room_id, user_id=request.user_id, action=action
        )
    return room_id, request.user_id, lifted


async def block(hub: HubRuntime, connection: Connection, data: Any) -> dict[str, Any]:
    room_id, request = await _apply(hub, connection, data, moderation.BLOCKED)
    await remove_user(hub, room_id, request.user_id)
    await hub.to_user(request.user_id, BLOCKED, {"roomId": room_id, "reason": request.reason})
    return OK


async def silence(hub: HubRuntime, connection: Connection, data: Any) -> dict[str, Any]:
    room_id, request = await _apply(hub, connection, data, moderation.SILENCED)
    await hub.to_user(request.user_id, SILENCED, {"roomId": room_id, "reason": request.reason})
    return OK


async def unblock(hub: HubRuntime, connection: Connection, data: Any) -> dict[str, Any]:
    room_id, user_id, lifted = await _lift(hub, connection, data, moderation.BLOCKED)
    if lifted:  # nothing to tell a user who was not blocked
        await hub.to_user(user_id, UNBLOCKED, {"roomId": room_id})
    return OK


async def unsilence(hub: HubRuntime, connection: Connection, data: Any) -> dict[str, Any]:
    room_id, user_id, lifted = await _lift(hub, connection, data, moderation.SILENCED)
    if lifted:
        await hub.to_user(user_id, UNSILENCED, {"roomId": room_id})
    return OK
