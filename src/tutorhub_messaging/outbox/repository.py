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
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import OutboxEvent, WebhookDelivery, WebhookRoomQueue
from tutorhub_messaging.db.prepared import ManyRowsStatement
from tutorhub_messaging.db.types import UtcDateTime
from tutorhub_messaging.db.upsert import insert_on

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
_QUEUES = cast(Table, WebhookRoomQueue.__table__)
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


def _held_by(owner: str) -> ColumnElement[bool]:
    """The delivery's room queue is leased by ``owner``."""
    q, d = _QUEUES.c, _DELIVERIES.c
    return exists().where(q.endpoint == d.endpoint, q.room_id == d.room_id, q.leased_by == owner)


# Transactions that queue deliveries for the same rooms take these locks (sorted, so two never
# wait on each other) just before inserting: a room's deliveries are then numbered in commit order.
_LOCK_ROOMS = text(
    "SELECT pg_advisory_xact_lock(h) FROM "
    "(SELECT DISTINCT hashtextextended(k, 0) AS h FROM unnest(CAST(:keys AS text[])) AS k ORDER BY h) AS s"
)


def _insert_queues(dialect: str) -> ManyRowsStatement:
    """A room queue for each (endpoint, room) a commit queues deliveries for, unless it has one."""
    statement = insert_on(dialect, _QUEUES).on_conflict_do_nothing(index_elements=["endpoint", "room_id"])
    return ManyRowsStatement(statement, ["endpoint", "room_id", "due_at"])


_INSERT_QUEUES = {dialect: _insert_queues(dialect) for dialect in ("sqlite", "postgresql")}


def _lease_statement(*, skip_locked: bool) -> Any:
    """Lease up to ``b_rooms`` of the endpoint's due rooms that nobody holds, earliest due first."""
    q = _QUEUES.c
    now = bindparam("b_now", type_=UtcDateTime)
    free = q.lease_until.is_(None) | (q.lease_until < now)
    due = (
        select(q.room_id)
        .where(q.endpoint == bindparam("b_endpoint"), q.due_at <= now, free)
        .order_by(q.due_at)
        .limit(bindparam("b_rooms", type_=Integer))
    )
    if skip_locked:
        # Another process's claim or settle holding one of these rows: leave the room to it.
        due = due.with_for_update(skip_locked=True)
    # Chosen once, as a CTE of its own: PostgreSQL may otherwise run a LIMITed subquery of an
    # UPDATE more than once, and lease more rooms than asked for.
    chosen = due.cte("due").prefix_with("MATERIALIZED", dialect="postgresql")
    return (
        update(_QUEUES)
        .where(q.endpoint == bindparam("b_endpoint"), q.room_id.in_(select(chosen.c.room_id)), free)
        .values(lease_until=bindparam("b_until", type_=UtcDateTime), leased_by=bindparam("b_owner"))
        .returning(q.room_id)
    )


_LEASE = _lease_statement(skip_locked=False)
_LEASE_PG = _lease_statement(skip_locked=True)


def _heads_statement(dialect: str) -> Any:
    """The first ``b_per_room`` pending deliveries of each leased room, with their events.

    Each room's run is read as one short range of the pending index, however many deliveries the
    room has waiting: on PostgreSQL with a LATERAL subquery per room; SQLite has none, so there
    the run's end (the id past its last delivery) is found first by a short walk of the same
    index and bounds the range (``EXPLAIN QUERY PLAN`` shows both as index searches;
    ``tests/test_webhook_room_queues.py`` checks that the work does not grow with the backlog)."""
    d, e, q = _DELIVERIES.c, _EVENTS.c, _QUEUES.c
    leased = (q.endpoint == bindparam("b_endpoint")) & q.room_id.in_(bindparam("b_rooms", expanding=True))
    of_room = (d.endpoint == q.endpoint) & (d.room_id == q.room_id) & _has_status(PENDING)
    columns = ("id", "event_id", "event_type", "room_id", "attempts", "retry_from", "next_attempt_at")
    if dialect == "postgresql":
        run = (
            select(*(d[name] for name in columns))
            .where(of_room)
            .order_by(d.id)
            .limit(bindparam("b_per_room", type_=Integer))
            .lateral("run")
        )
        return (
            select(*(run.c[name] for name in columns), e.payload)
            .select_from(_QUEUES)
            .join(run, true())
            .join(_EVENTS, e.id == run.c.event_id)
            .where(leased)
            .order_by(run.c.id)
        )
    # SQLite: CROSS JOIN keeps the queues as the outer loop (its planner may otherwise scan
    # the leased rooms' whole queues first when it has no statistics); the bound is computed
    # once per room and ends the index range.
    return (
        text(
            """
        SELECT d.id, d.event_id, d.event_type, d.room_id, d.attempts, d.retry_from,
               d.next_attempt_at, e.payload
        FROM webhook_room_queue AS q
        CROSS JOIN webhook_delivery AS d
        CROSS JOIN outbox_event AS e
        WHERE q.endpoint = :b_endpoint AND q.room_id IN :b_rooms
          AND d.endpoint = q.endpoint AND d.room_id = q.room_id AND d.status = 'pending'
          AND d.id < coalesce(
            (SELECT x.id FROM webhook_delivery AS x
             WHERE x.endpoint = q.endpoint AND x.room_id = q.room_id AND x.status = 'pending'
             ORDER BY x.id LIMIT 1 OFFSET :b_per_room),
            9223372036854775807)
          AND e.id = d.event_id
        ORDER BY d.id
        """
        )
        .bindparams(bindparam("b_rooms", expanding=True))
        .columns(*(d[name] for name in columns), e.payload)
    )


_HEADS = {dialect: _heads_statement(dialect) for dialect in ("sqlite", "postgresql")}


@dataclass(frozen=True, slots=True)
class Claimed:
    """A pending delivery of a room this process holds the lease of, with the event to send."""

    id: int
    event_id: str
    event_type: str
    room_id: str
    attempts: int
    retry_from: datetime
    next_attempt_at: datetime
    payload: str


@dataclass(frozen=True, slots=True)
class RoomRun:
    """A leased room's queue as a claim found it: the deliveries to send now, in order (none when
    its head is not due yet, or nothing is pending any more), and when the head is due."""

    room_id: str
    deliveries: list[Claimed]
    head_due_at: datetime | None


class OutboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_events(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await _INSERT_EVENTS.execute(await self.session.connection(), rows)

    async def add_deliveries(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """New pending deliveries, and a room queue for each (endpoint, room) that has none."""
        connection = await self.session.connection()
        await _INSERT_DELIVERIES.execute(connection, rows)
        queues = {(row["endpoint"], row["room_id"]): row["next_attempt_at"] for row in rows}
        await _INSERT_QUEUES[connection.dialect.name].execute(
            connection,
            [
                {"endpoint": endpoint, "room_id": room, "due_at": due}
                for (endpoint, room), due in queues.items()
            ],
        )

    async def lock_rooms(self, room_ids: Collection[str]) -> None:
        """PostgreSQL: serialise, until commit, the transactions that queue deliveries for these
        rooms or remove their queues (SQLite has one writer at a time already). Taken before the
        transaction touches a room queue's row, so two such transactions never wait on each
        other's rows."""
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql" and room_ids:
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
    ) -> list[RoomRun]:
        """``lease`` then ``heads`` in this one transaction."""
        leased = await self.lease(endpoint, now=now, lease_until=lease_until, owner=owner, rooms=rooms)
        return await self.heads(endpoint, leased, now=now, per_room=per_room)

    async def lease(
        self, endpoint: str, *, now: datetime, lease_until: datetime, owner: str, rooms: int
    ) -> list[str]:
        """Lease up to ``rooms`` due rooms of ``endpoint`` nobody holds; returns them. Reads and
        writes only the rooms taken: a backlog elsewhere costs nothing."""
        connection = await self.session.connection()
        lease = _LEASE_PG if connection.dialect.name == "postgresql" else _LEASE
        values = {
            "b_endpoint": endpoint,
            "b_now": now,
            "b_until": lease_until,
            "b_owner": owner,
            "b_rooms": rooms,
        }
        return [row.room_id for row in (await connection.execute(lease, values)).all()]

    async def heads(self, endpoint: str, leased: list[str], *, now: datetime, per_room: int) -> list[RoomRun]:
        """Each leased room's oldest pending deliveries, at most ``per_room``, cut before the
        first that is not due. Only reads: the lease keeps other processes off these rooms, so
        it may run in a transaction after the lease's (``Database.reading``)."""
        if not leased:
            return []
        connection = await self.session.connection()
        found: dict[str, list[Claimed]] = {room: [] for room in leased}
        heads = await connection.execute(
            _HEADS[connection.dialect.name],
            {"b_endpoint": endpoint, "b_rooms": leased, "b_per_room": per_room},
        )
        for row in heads:
            found[row.room_id].append(
                Claimed(
                    row.id,
                    row.event_id,
                    row.event_type,
                    row.room_id,
                    row.attempts,
                    row.retry_from,
                    row.next_attempt_at,
                    row.payload,
                )
            )
        runs = []
        for room, queue in found.items():
            due = [delivery.next_attempt_at <= now for delivery in queue]
            cut = due.index(False) if False in due else len(queue)
            runs.append(RoomRun(room, queue[:cut], queue[0].next_attempt_at if queue else None))
        return runs

    async def mark_delivered(self, ids: Collection[int], *, now: datetime, status: int | None) -> None:
        d = _DELIVERIES.c
        await self.session.execute(
            update(_DELIVERIES)
            .where(d.id.in_(list(ids)), _has_status(PENDING))
            .values(
                status=DELIVERED,
                attempts=d.attempts + 1,
                last_status=status,
                last_error=None,
                updated_at=now,
            )
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
        """A failed attempt: retried at ``next_attempt_at``, or dead (None). Only while this
        process still holds the room's lease (past it, another process owns the room's queue)."""
        d = _DELIVERIES.c
        values: dict[str, Any] = {
            "attempts": d.attempts + 1,
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
            .where(d.id == delivery_id, _has_status(PENDING), _held_by(owner))
            .values(**values)
        )

    async def reschedule(self, endpoint: str, due: Mapping[str, datetime], *, owner: str) -> None:
        """Give back the leases of rooms this process ran: each room is due again at the given
        time (its failed head's retry, or now), and a room with nothing pending loses its queue.
        The rooms are locked first: a commit adding to a room must not slip between seeing it
        empty and removing its queue (its delivery would have no queue, and never go out)."""
        if not due:
            return
        await self.lock_rooms(due)
        q, d = _QUEUES.c, _DELIVERIES.c
        mine = (q.endpoint == endpoint) & (q.leased_by == owner)
        pending = exists().where(d.endpoint == q.endpoint, d.room_id == q.room_id, _has_status(PENDING))
        await self.session.execute(delete(_QUEUES).where(mine, q.room_id.in_(list(due)), ~pending))
        connection = await self.session.connection()
        await connection.execute(
            update(_QUEUES)
            .where(mine, q.room_id == bindparam("b_room"))
            .values(due_at=bindparam("b_due", type_=UtcDateTime), lease_until=None, leased_by=None),
            [{"b_room": room, "b_due": at} for room, at in due.items()],
        )

    async def requeue(self, endpoint: str, room_id: str, *, now: datetime) -> None:
        """A room given a pending delivery outside a commit's own (a replay): due now. Call
        ``lock_rooms`` first."""
        statement = insert_on(self.session.get_bind().dialect.name, _QUEUES).values(
            endpoint=endpoint, room_id=room_id, due_at=now
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["endpoint", "room_id"], set_={"due_at": statement.excluded.due_at}
            )
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

    async def room_of(self, delivery_id: int) -> str | None:
        return await self.session.scalar(select(_DELIVERIES.c.room_id).where(_DELIVERIES.c.id == delivery_id))

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
