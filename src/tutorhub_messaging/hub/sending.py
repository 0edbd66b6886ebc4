"""Sending into a hub room: the rules ``hub:send`` and ``POST /chat/{roomId}/messages`` share.

Order of checks (and so of the errors a client sees): room and access (ROOM_NOT_FOUND,
NOT_AUTHORIZED, ROOM_NOT_ELIGIBLE), moderation (BLOCKED, SILENCED), role (SEND_NOT_ALLOWED),
content (INVALID_PAYLOAD, MESSAGE_TOO_LARGE), then the rate limit (RATE_LIMITED), so only a
message that would be stored counts against the limit.

``send_many`` applies them to a batch of sends in one unit of work (hub:send's group commit, see
``hub.batching``), reading the batch's rooms and moderation state with one query each; a single
send is a batch of one. Each send gets its own outcome: one refused send never fails another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.errors import AppError, RateLimited, SendNotAllowed
from tutorhub_messaging.hub.definition import MessageType
from tutorhub_messaging.hub.engine import HubEngine, RoomAccess
from tutorhub_messaging.hub.rooms import ROOM_BATCH_LOADERS, check_access, check_room_id
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.messages.batch import Outgoing, store_messages
from tutorhub_messaging.messages.content import validate_content
from tutorhub_messaging.messages.service import NewMessage, Sender, StoredMessage
from tutorhub_messaging.moderation.service import NOTHING_IN_FORCE, check_state_may_speak, in_force_for_pairs
from tutorhub_messaging.ops.metrics import MESSAGES_IN


def sender_of(principal: Principal) -> Sender:
    return Sender(principal.user_id, principal.fullname, principal.avatar)


@dataclass(frozen=True, slots=True)
class SendRequest:
    principal: Principal
    room_id: Any  # as the client gave it
    new: NewMessage
    # False when this send already took its rate-limit slot (a batch retried one by one).
    take_rate_slot: bool = True


@dataclass(frozen=True, slots=True)
class Sent:
    access: RoomAccess
    stored: StoredMessage


async def send_many(
    uow: UnitOfWork, context: AppContext, requests: Sequence[SendRequest], *, via: str
) -> list[Sent | AppError]:
    """Check every rule for each send, store the accepted ones and queue their broadcasts for after
    the commit. Outcomes come in the order of ``requests``."""
    engine = HubEngine(context.hub)
    outcomes: list[Sent | AppError | None] = [None] * len(requests)
    room_ids: list[str | None] = []
    for index, request in enumerate(requests):
        try:
            room_ids.append(check_room_id(request.room_id))
        except AppError as exc:
            outcomes[index] = exc
            room_ids.append(None)
    load_rooms = ROOM_BATCH_LOADERS[engine.definition.room_object]
    rooms = await load_rooms(uow.session, {room_id for room_id in room_ids if room_id is not None})
    accesses: list[RoomAccess | None] = []
    for index, (request, room_id) in enumerate(zip(requests, room_ids, strict=True)):
        access = None
        if room_id is not None:
            try:
                access = check_access(engine, request.principal, room_id, rooms.get(room_id))
            except AppError as exc:
                outcomes[index] = exc
        accesses.append(access)
    moderation = await in_force_for_pairs(
        uow.session,
        {
            (access.room_id, request.principal.user_id)
            for request, access in zip(requests, accesses, strict=True)
            if access is not None
        },
    )
    accepted: list[tuple[int, RoomAccess, Outgoing]] = []
    for index, (request, access) in enumerate(zip(requests, accesses, strict=True)):
        if access is None:
            continue
        try:
            principal = request.principal
            check_state_may_speak(moderation.get((access.room_id, principal.user_id), NOTHING_IN_FORCE))
            checked = await _check_may_send(context, access, request)
        except AppError as exc:
            outcomes[index] = exc
            continue
        status = "pending" if access.permissions.moderated else "approved"
        participants = engine.participants(access.room)
        outgoing = Outgoing(access.room_id, sender_of(principal), request.new, status, checked, participants)
        accepted.append((index, access, outgoing))
    stored = await store_messages(
        uow, context.notifier, context.message_rules, [outgoing for _, _, outgoing in accepted]
    )
    for (index, access, _), result in zip(accepted, stored, strict=True):
        if isinstance(result, AppError):
            outcomes[index] = result
            continue
        if result.created:
            MESSAGES_IN.labels(via=via).inc()
        outcomes[index] = Sent(access, result)
    assert all(outcome is not None for outcome in outcomes)
    return [outcome for outcome in outcomes if outcome is not None]


async def _check_may_send(
    context: AppContext, access: RoomAccess, request: SendRequest
) -> tuple[MessageType, dict[str, Any]]:
    """The send's role, content and rate checks; the validated content for storing."""
    permissions = access.permissions
    if not permissions.send:
        raise SendNotAllowed("Your role in this room cannot send messages")
    # Type and size first, so a bad message is refused before it costs a rate-limit slot.
    message_type, content = validate_content(
        context.hub, request.new.message_type, request.new.content, context.settings.max_message_bytes
    )
    if not permissions.may_send_type(message_type.name):
        raise SendNotAllowed(f"Your role in this room cannot send {message_type.name} messages")
    if request.take_rate_slot and not await context.rate_limiter.allow(request.principal.user_id):
        raise RateLimited(
            f"Rate limit: at most {context.settings.message_rate_per_minute} messages per minute"
        )
    return message_type, content


async def send_to_room(
    uow: UnitOfWork,
    context: AppContext,
    principal: Principal,
    room_id: Any,
    new: NewMessage,
    *,
    via: str,
) -> tuple[RoomAccess, StoredMessage]:
    """One send: check every rule, store the message and queue its broadcast for after the commit."""
    [outcome] = await send_many(uow, context, [SendRequest(principal, room_id, new)], via=via)
    if isinstance(outcome, AppError):
        raise outcome
    return outcome.access, outcome.stored
