"""Sending into a hub room: the rules ``hub:send`` and ``POST /chat/{roomId}/messages`` share.

Order of checks (and so of the errors a client sees): room and access (ROOM_NOT_FOUND,
NOT_AUTHORIZED, ROOM_NOT_ELIGIBLE), moderation (BLOCKED, SILENCED), role (SEND_NOT_ALLOWED),
content (INVALID_PAYLOAD, MESSAGE_TOO_LARGE), then the rate limit (RATE_LIMITED), so only a
message that would be stored counts against the limit.
"""

from __future__ import annotations

from typing import Any

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.errors import RateLimited, SendNotAllowed
from tutorhub_messaging.hub.engine import HubEngine, RoomAccess
from tutorhub_messaging.hub.rooms import access_room
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.messages.content import validate_content
from tutorhub_messaging.messages.service import NewMessage, Sender, StoredMessage, store_message
from tutorhub_messaging.moderation.service import check_may_speak
from tutorhub_messaging.ops.metrics import MESSAGES_IN


def sender_of(principal: Principal) -> Sender:
    return Sender(principal.user_id, principal.fullname, principal.avatar)


async def send_to_room(
    uow: UnitOfWork,
    context: AppContext,
    principal: Principal,
    room_id: Any,
    new: NewMessage,
    *,
    via: str,
) -> tuple[RoomAccess, StoredMessage]:
    """Check every rule, store the message and queue its broadcast for after the commit."""
    engine = HubEngine(context.hub)
    access = await access_room(uow.session, engine, principal, room_id)
    await check_may_speak(uow.session, access.room_id, principal.user_id)
    permissions = access.permissions
    if not permissions.send:
        raise SendNotAllowed("Your role in this room cannot send messages")
    # Type and size first, so a bad message is refused before it costs a rate-limit slot.
    message_type, _ = validate_content(
        context.hub, new.message_type, new.content, context.settings.max_message_bytes
    )
    if not permissions.may_send_type(message_type.name):
        raise SendNotAllowed(f"Your role in this room cannot send {message_type.name} messages")
    if not await context.rate_limiter.allow(principal.user_id):
        raise RateLimited(
            f"Rate limit: at most {context.settings.message_rate_per_minute} messages per minute"
        )
    stored = await store_message(
        uow,
        context.notifier,
        context.message_rules,
        room_id=access.room_id,
        sender=sender_of(principal),
        new=new,
        status="pending" if permissions.moderated else "approved",
    )
    if stored.created:
        MESSAGES_IN.labels(via=via).inc()
    return access, stored
