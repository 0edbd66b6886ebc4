"""All SQL about the outbox and webhook deliveries."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Integer,
    Table,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import OutboxEvent, WebhookDelivery
from tutorhub_messaging.db.prepared import ManyRowsStatement
from tutorhub_messaging.db.types import UtcDateTime

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"
DELIVERY_STATUSES = (PENDING, DELIVERED, DEAD)


def _has_status(status: str) -> ColumnElement[bool]:
    """``status = '<status>'`` with the status written out, not bound: each status has a partial
    index of its own, which a database matches only against the literal (a bound value could be
    any status). Only the constants above are ever passed."""
    if status not in DELIVERY_STATUSES:
        raise ValueError(f"unknown delivery status {status!r}")
    return WebhookDelivery.__table__.c.status == literal_column(f"'{status}'")


_EVENTS = cast(Table, OutboxEvent.__table__)
_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_INSERT_EVENTS = ManyRowsStatement(
    insert(_EVENTS), [column.key for column in _EVENTS.columns if column.key != "seq"]
)
_INSERT_DELIVERIES = ManyRowsStatement(
    insert(_DELIVERIES),
    [
        "event_id",
        "event_type",
        "endpoint",
        "room_id",
        "status",
        "attempts",
        "next_attempt_at",
        "retry_from",
        "created_at",
        "updated_at",
    ],
)
# Transactions that queue deliveries for the same rooms take these locks (sorted, so two never
# wait on each other) just before inserting: a room's deliveries are then numbered in commit order.
_LOCK_ROOMS = text(
    "SELECT pg_advisory_xact_lock(h) FROM "
    "(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS s"
)


def _claim_statement(*, skip_locked: bool) -> Any:
    """Lease the due rooms' queues: per (endpoint, room), when the room's oldest pending delivery
    (its head) is due and not leased, the head and the next ones after it, up to ``b_per_room``,
    for at most ``b_rooms`` rooms. Built once per dialect (it runs every round of every endpoint).

    Only a room's lease holder ever writes to its queue's heads, so the rows taken are always the
    first ones of the queue with no gap: a worker sends them one after another, in order."""
    d = _DELIVERIES.c
    now = bindparam("b_now", type_=UtcDateTime)
    free = d.lease_until.is_(None) | (d.lease_until < now)
    ranked = (
        select(
            d.id,
            d.room_id,
            d.next_attempt_at,
            d.lease_until,
            func.row_number().over(partition_by=d.room_id, order_by=d.id).label("rank"),
        )
        .where(d.endpoint == bindparam("b_endpoint"), _has_status(PENDING))
        .cte("ranked")
    )
    r = ranked.c
    due_rooms = (
        select(r.room_id)
        .where(
            r.rank == 1,
            r.next_attempt_at <= now,
            r.lease_until.is_(None) | (r.lease_until < now),
        )
        .order_by(r.id)
        .limit(bindparam("b_rooms", type_=Integer))
    )
    chosen = select(r.id).where(r.room_id.in_(due_rooms), r.rank <= bindparam("b_per_room", type_=Integer))
    if skip_locked:
        # Another process's claim or settle holding one of these rows: leave the room to it.
        chosen = select(d.id).where(d.id.in_(chosen.scalar_subquery())).with_for_update(skip_locked=True)
    return (
        update(_DELIVERIES)
        .where(d.id.in_(chosen.scalar_subquery()), _has_status(PENDING), free)
        .values(lease_until=bindparam("b_until", type_=UtcDateTime), leased_by=bindparam("b_owner"))
        .returning(d.id, d.event_id, d.event_type, d.room_id, d.attempts, d.retry_from)
    )


_CLAIM = _claim_statement(skip_locked=False)
_CLAIM_PG = _claim_statement(skip_locked=True)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this process holds the lease of, with the event to send."""

    id: int
    event_id: str
    event_type: str
    room_id: str
    attempts: int
    retry_from: datetime
    payload: str


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_events(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await _INSERT_EVENTS.execute(await self.session.connection(), rows)

    async def add_deliveries(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await _INSERT_DELIVERIES.execute(await self.session.connection(), rows)

    async def lock_rooms(self, room_ids: Collection[str]) -> None:
        """PostgreSQL: serialise, until commit, the transactions queueing deliveries for these rooms
        (SQLite has one writer at a time already)."""
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            await connection.execute(_LOCK_ROOMS, {"keys": sorted(room_ids)})

    async def claim(
        self,
        endpoint: str,
        *,
        now: datetime,
        lease_until: datetime,
        owner: str,
        rooms: int,
        per_room: int,
    ) -> list[Claimed]:
        """Lease the queues of up to ``rooms`` rooms due for ``endpoint``: each room's oldest
        pending deliveries, at most ``per_room``, skipping rooms in flight anywhere. Sorted by id,
        so each room's deliveries come in the order they must be sent in."""
        connection = await self.session.connection()
        statement = _CLAIM_PG if connection.dialect.name == "postgresql" else _CLAIM
        values = {
            "b_endpoint": endpoint,
            "b_now": now,
            "b_until": lease_until,
            "b_owner": owner,
            "b_rooms": rooms,
            "b_per_room": per_room,
        }
        leased = (await connection.execute(statement, values)).all()
        if not leased:
            return []
        payloads = dict(
            (
                await connection.execute(
                    select(_EVENTS.c.id, _EVENTS.c.payload).where(
                        _EVENTS.c.id.in_([row.event_id for row in leased])
                    )
                )
            ).all()
        )
        claimed = [
            Claimed(
                row.id,
                row.event_id,
                row.event_type,
                row.room_id,
                row.attempts,
                row.retry_from,
                payloads[row.event_id],
            )
            for row in leased
            if row.event_id in payloads
        ]
        return sorted(claimed, key=lambda c: c.id)

    async def mark_delivered(self, ids: Collection[int], *, now: datetime, status: int | None) -> None:
        d = _DELIVERIES.c
        await self.session.execute(
            update(_DELIVERIES)
            .where(d.id.in_(list(ids)), _has_status(PENDING))
            .values(
                status=DELIVERED,
                attempts=d.attempts + 1,
                lease_until=None,
                leased_by=None,
                last_status=status,
                last_error=None,
                updated_at=now,
            )
        )

    async def release(self, ids: Collection[int], *, owner: str) -> None:
        """Give back leased deliveries that were not attempted (their room's queue stopped at a
        failure, or its lease was running out): they stay pending and due."""
        d = _DELIVERIES.c
        await self.session.execute(
            update(_DELIVERIES)
            .where(d.id.in_(list(ids)), _has_status(PENDING), d.leased_by == owner)
            .values(lease_until=None, leased_by=None)
        )

    async def mark_failed(
        self,
        delivery_id: int,
        *,
        owner: str,
        now: datetime,
        next_attempt_at: datetime | None,
        status: int | None,
        error: str,
    ) -> None:
        """A failed attempt: retried at ``next_attempt_at``, or dead (None)."""
        d = _DELIVERIES.c
        values: dict[str, Any] = {
            "attempts": d.attempts + 1,
            "lease_until": None,
            "leased_by": None,
            "last_status": status,
            "last_error": error[:500],
            "updated_at": now,
        }
        if next_attempt_at is None:
            values["status"] = DEAD
        else:
            values["next_attempt_at"] = next_attempt_at
        await self.session.execute(
            update(_DELIVERIES)
            .where(d.id == delivery_id, _has_status(PENDING), d.leased_by == owner)
            .values(**values)
        )

    async def page(self, *, status: str | None, limit: int, offset: int) -> tuple[list[WebhookDelivery], int]:
        conditions = [_has_status(status)] if status else []
        rows = await self.session.scalars(
            select(WebhookDelivery)
            .where(*conditions)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
            .offset(offset)
        )
        total = await self.session.scalar(
            select(func.count()).select_from(WebhookDelivery).where(*conditions)
        )
        return list(rows), int(total or 0)

    async def get_delivery(self, delivery_id: int) -> WebhookDelivery | None:
        return await self.session.get(WebhookDelivery, delivery_id, with_for_update=True)

    async def count_dead(self) -> int:
        return int(
            await self.session.scalar(
                select(func.count()).select_from(WebhookDelivery).where(_has_status(DEAD))
            )
            or 0
        )

    async def prune(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` deliveries delivered before ``before``, then events older than it
        that no delivery still needs. Returns how many rows went."""
        d = _DELIVERIES.c
        old = select(d.id).where(_has_status(DELIVERED), d.updated_at < before).limit(limit)
        gone = await self.session.execute(delete(_DELIVERIES).where(d.id.in_(old.scalar_subquery())))
        e = _EVENTS.c
        needed = exists().where(d.event_id == e.id)
        stale = select(e.seq).where(e.occurred_at < before, ~needed).limit(limit)
        events = await self.session.execute(delete(_EVENTS).where(e.seq.in_(stale.scalar_subquery())))
        return int(getattr(gone, "rowcount", 0) or 0) + int(getattr(events, "rowcount", 0) or 0)
