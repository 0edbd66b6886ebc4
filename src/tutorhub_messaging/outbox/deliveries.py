"""Webhook deliveries as the M2M routes show them: listing (dead letters first of all) and replay."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.models import WebhookDelivery
from tutorhub_messaging.db.types import iso, utcnow
from tutorhub_messaging.errors import Conflict, InvalidInput, NotFound
from tutorhub_messaging.ops.metrics import WEBHOOK_DEAD
from tutorhub_messaging.outbox.events import OutboxOptions
from tutorhub_messaging.outbox.repository import DEAD, DELIVERY_STATUSES, PENDING, OutboxRepository

MAX_DELIVERY_ID = 2**63 - 1


@dataclass(frozen=True, slots=True)
class DeliveryPage:
    deliveries: list[dict[str, Any]]
    total: int


def delivery_record(row: WebhookDelivery) -> dict[str, Any]:
    return {
        "id": row.id,
        "eventId": row.event_id,
        "eventType": row.event_type,
        "endpoint": row.endpoint,
        "roomId": row.room_id,
        "status": row.status,
        "attempts": row.attempts,
        "lastStatus": row.last_status,
        "lastError": row.last_error,
        "nextAttemptAt": iso(row.next_attempt_at) if row.status == PENDING else None,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


def check_delivery_id(value: str) -> int:
    if not value.isdigit() or not 0 < int(value) <= MAX_DELIVERY_ID:
        raise InvalidInput("deliveryId must be a positive whole number", key="errMsg_deliveryIdIsNotValid")
    return int(value)


def check_status(value: str | None) -> str | None:
    if value is not None and value not in DELIVERY_STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(DELIVERY_STATUSES)}", key="errMsg_statusIsNotValid"
        )
    return value


async def list_deliveries(uow: UnitOfWork, *, status: str | None, limit: int, offset: int) -> DeliveryPage:
    rows, total = await OutboxRepository(uow.session).page(status=status, limit=limit, offset=offset)
    return DeliveryPage([delivery_record(row) for row in rows], total)


async def replay_delivery(uow: UnitOfWork, options: OutboxOptions, delivery_id: int) -> dict[str, Any]:
    """Queue a dead delivery again, with a fresh retry budget; it goes out before its room's later
    events that are still pending for the endpoint."""
    repository = OutboxRepository(uow.session)
    room = await repository.room_of(delivery_id)
    if room is not None:
        # Before any row is locked: the order every writer of a room's queue takes its locks in.
        await repository.lock_rooms([room])
    row = await repository.get_delivery(delivery_id)
    if row is None:
        raise NotFound("Webhook delivery not found", key="errMsg_webhookDeliveryNotFound")
    if row.status != DEAD:
        raise Conflict("Only a dead delivery can be replayed", key="errMsg_webhookDeliveryNotDead")
    now = utcnow()
    row.status = PENDING
    row.attempts = 0
    row.next_attempt_at = now
    row.retry_from = now
    row.updated_at = now
    await repository.requeue(row.endpoint, row.room_id, now=now)
    await uow.session.flush()
    WEBHOOK_DEAD.dec()
    wake = options.wake
    if wake is not None:

        async def _wake() -> None:
            wake()

        uow.after_commit(_wake)
    return delivery_record(row)
