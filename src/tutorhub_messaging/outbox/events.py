"""Recording events in the unit of work, and writing them just before it commits."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.types import iso, utcnow
from tutorhub_messaging.ops.metrics import OUTBOX_EVENTS
from tutorhub_messaging.outbox.repository import PENDING, OutboxRepository
from tutorhub_messaging.realtime import NobodyPresent, RoomPresence
from tutorhub_messaging.settings import Settings

CONVERSATION_CREATED = "conversation.created"
CONVERSATION_UPDATED = "conversation.updated"
CHAT_MESSAGE_CREATED = "chatMessage.created"
CHAT_MESSAGE_UPDATED = "chatMessage.updated"
CHAT_MESSAGE_DELETED = "chatMessage.deleted"
CHAT_MODERATION_CREATED = "chatModeration.created"
CHAT_MODERATION_DELETED = "chatModeration.deleted"
READ_STATE_UPDATED = "readState.updated"
EVENT_TYPES = (
    CONVERSATION_CREATED,
    CONVERSATION_UPDATED,
    CHAT_MESSAGE_CREATED,
    CHAT_MESSAGE_UPDATED,
    CHAT_MESSAGE_DELETED,
    CHAT_MODERATION_CREATED,
    CHAT_MODERATION_DELETED,
    READ_STATE_UPDATED,
)
CONVERSATION = "conversation"

# Keys in a session's ``info``.
OPTIONS_KEY = "outbox.options"
_STAGED_KEY = "outbox.staged"


@dataclass
class OutboxOptions:
    """What the outbox needs at commit; one object shared by every session of a ``Database``."""

    webhook_endpoints: tuple[str, ...] = ()
    # The event types sent to webhooks; None: all of them.
    webhook_events: frozenset[str] | None = None
    # Who is in which room (the hub sets it), for ``recipients[].online``.
    presence: RoomPresence = field(default_factory=NobodyPresent)
    # Called after a commit that queued webhook deliveries (the worker sets it).
    wake: Callable[[], None] | None = None

    def endpoints_for(self, event_type: str) -> tuple[str, ...]:
        if self.webhook_events is not None and event_type not in self.webhook_events:
            return ()
        return self.webhook_endpoints


_NO_OPTIONS = OutboxOptions()


def outbox_options(settings: Settings) -> OutboxOptions:
    events = settings.webhook_events
    return OutboxOptions(
        webhook_endpoints=tuple(settings.webhook_urls),
        webhook_events=frozenset(events) if events is not None else None,
    )


@dataclass(slots=True)
class _Event:
    id: str
    type: str
    aggregate_type: str
    aggregate_id: str
    data: dict[str, Any]
    previous: dict[str, Any] | None
    recipients: Sequence[str] | None


def record(
    uow: UnitOfWork | AsyncSession,
    *,
    type: str,
    aggregate_id: str,
    data: dict[str, Any],
    previous: dict[str, Any] | None = None,
    recipients: Sequence[str] | None = None,
    aggregate_type: str = CONVERSATION,
) -> str:
    """Stage one event in the unit of work; it is written just before the commit. Returns its id."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    unit = uow if isinstance(uow, UnitOfWork) else UnitOfWork.of(uow)
    info = unit.session.info
    staged: list[_Event] | None = info.get(_STAGED_KEY)
    if staged is None:
        staged = info[_STAGED_KEY] = []

        async def _write() -> None:
            info.pop(_STAGED_KEY, None)
            await _write_events(unit, staged)

        unit.before_commit(_write)
    event_id = str(uuid.uuid4())
    staged.append(_Event(event_id, type, aggregate_type, aggregate_id, data, previous, recipients))
    return event_id


async def _online(options: OutboxOptions, events: Collection[_Event]) -> dict[str, set[str]]:
    rooms = {event.aggregate_id for event in events if event.recipients}
    return await options.presence.users_in_rooms(rooms) if rooms else {}


def event_row(
    event_id: str,
    event_type: str,
    aggregate_id: str,
    payload: str,
    now: datetime,
    aggregate_type: str = CONVERSATION,
) -> dict[str, Any]:
    """An outbox row: one event, as committed."""
    return {
        "id": event_id,
        "aggregatetype": aggregate_type,
        "aggregateid": aggregate_id,
        "type": event_type,
        "payload": payload,
        "occurred_at": now,
    }


def delivery_row(
    event_id: str, event_type: str, endpoint: str, room_id: str, now: datetime
) -> dict[str, Any]:
    """A new delivery of one event to one endpoint: pending, due now."""
    return {
        "event_id": event_id,
        "event_type": event_type,
        "endpoint": endpoint,
        "room_id": room_id,
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "retry_from": now,
        "created_at": now,
        "updated_at": now,
    }


async def _write_events(uow: UnitOfWork, events: list[_Event]) -> None:
    if not events:
        return
    options: OutboxOptions = uow.session.info.get(OPTIONS_KEY, _NO_OPTIONS)
    online = await _online(options, events)
    now = utcnow()
    occurred_at = iso(now)
    rows: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for event in events:
        body: dict[str, Any] = {
            "id": event.id,
            "type": event.type,
            "occurredAt": occurred_at,
            "data": event.data,
        }
        if event.previous is not None:
            body["previous"] = event.previous
        if event.recipients is not None:
            present = online.get(event.aggregate_id, set())
            body["recipients"] = [{"userId": user, "online": user in present} for user in event.recipients]
        rows.append(
            event_row(
                event.id,
                event.type,
                event.aggregate_id,
                orjson.dumps(body).decode(),
                now,
                event.aggregate_type,
            )
        )
        deliveries.extend(
            delivery_row(event.id, event.type, endpoint, event.aggregate_id, now)
            for endpoint in options.endpoints_for(event.type)
        )
    repository = OutboxRepository(uow.session)
    if deliveries:
        # A room's deliveries are created in its commit order (see lock_rooms).
        await repository.lock_rooms({row["room_id"] for row in deliveries})
    await repository.add_events(rows)
    OUTBOX_EVENTS.inc(len(rows))
    if deliveries:
        await repository.add_deliveries(deliveries)
        wake = options.wake
        if wake is not None:

            async def _wake() -> None:
                wake()

            uow.after_commit(_wake)
