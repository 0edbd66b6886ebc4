"""Webhook room queues: a claim reads the rooms it takes and nothing of the backlog elsewhere, and
settling a room never loses a delivery committed beside it.

These drive the outbox repository directly (no worker runs: the app has no webhook configured),
with an endpoint of their own, so each claim and settle is one the test chose."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.database import Database
from tutorhub_messaging.db.models import WebhookRoomQueue
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.outbox.events import delivery_row, event_row
from tutorhub_messaging.outbox.repository import OutboxRepository, RoomRun

ENDPOINT = "http://127.0.0.1:9/room-queues"
OWNER = "test-worker"


def _rows(
    room_counts: dict[str, int], *, due_in: float = 0.0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Events and their pending deliveries: ``count`` for each room, due ``due_in`` s from now."""
    now = utcnow()
    events, deliveries = [], []
    for room, count in room_counts.items():
        for _ in range(count):
            event_id = str(uuid.uuid4())
            events.append(event_row(event_id, "chatMessage.created", room, "{}", now))
            row = delivery_row(event_id, "chatMessage.created", ENDPOINT, room, now)
            row["next_attempt_at"] = now + timedelta(seconds=due_in)
            deliveries.append(row)
    return events, deliveries


async def _queue(db: Database, room_counts: dict[str, int], *, due_in: float = 0.0) -> None:
    events, deliveries = _rows(room_counts, due_in=due_in)
    async with db.unit_of_work() as uow:
        repository = OutboxRepository(uow.session)
        await repository.lock_rooms(set(room_counts))
        await repository.add_events(events)
        await repository.add_deliveries(deliveries)


async def _claim(session: AsyncSession, rooms: int, per_room: int) -> list[RoomRun]:
    now = utcnow()
    return await OutboxRepository(session).claim(
        ENDPOINT,
        now=now,
        lease_until=now + timedelta(seconds=30),
        owner=OWNER,
        rooms=rooms,
        per_room=per_room,
    )


async def _claim_work(db: Database, rooms: int, per_room: int) -> tuple[list[RoomRun], int]:
    """A claim, rolled back, and how much work the database did for it: SQLite's virtual machine
    steps, or on PostgreSQL the delivery rows its plans read (``EXPLAIN ANALYZE`` of the same
    statements with the same values)."""
    async with db.sessions() as session:
        connection = await session.connection()
        if db.dialect == "sqlite":
            steps = [0]

            def count() -> int:
                steps[0] += 1
                return 0

            raw = (await connection.get_raw_connection()).driver_connection
            await raw.set_progress_handler(count, 10)
            try:
                runs = await _claim(session, rooms, per_room)
            finally:
                await raw.set_progress_handler(None, 10)
            work = steps[0]
        else:
            runs = await _claim(session, rooms, per_room)
            await session.rollback()
            work = await _postgres_rows_read(session, rooms, per_room)
        await session.rollback()
    return runs, work


async def _postgres_rows_read(session: AsyncSession, rooms: int, per_room: int) -> int:
    from tutorhub_messaging.outbox import repository

    connection = await session.connection()
    now = utcnow()
    lease_values = {
        "b_endpoint": ENDPOINT,
        "b_now": now,
        "b_until": now + timedelta(seconds=30),
        "b_owner": OWNER,
        "b_rooms": rooms,
    }
    # The lease reads only the queues; the deliveries are read by the heads statement.
    leased = [row.room_id for row in (await connection.execute(repository._LEASE_PG, lease_values)).all()]
    heads = repository._HEADS["postgresql"].params(b_endpoint=ENDPOINT, b_rooms=leased, b_per_room=per_room)
    sql = heads.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    plan = (await connection.execute(text(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"))).scalar_one()
    return _delivery_rows(json.loads(plan) if isinstance(plan, str) else plan)


def _delivery_rows(node: Any) -> int:
    if isinstance(node, list):
        return sum(_delivery_rows(item) for item in node)
    if not isinstance(node, dict):
        return 0
    here = 0
    if node.get("Relation Name") == "webhook_delivery":
        here = int(node.get("Actual Rows", 0)) * int(node.get("Actual Loops", 1))
        here += int(node.get("Rows Removed by Filter", 0)) + int(node.get("Rows Removed by Index Recheck", 0))
    return here + sum(_delivery_rows(child) for key, child in node.items() if key in ("Plan", "Plans"))


def _ids(runs: Sequence[RoomRun]) -> dict[str, list[int]]:
    return {run.room_id: [delivery.id for delivery in run.deliveries] for run in runs}


async def test_a_claim_reads_the_rooms_it_takes_however_long_the_backlog(app: Any) -> None:
    db: Database = app.context.db
    taken = [str(uuid.uuid4()) for _ in range(8)]
    await _queue(db, dict.fromkeys(taken, 6))
    small_runs, small_work = await _claim_work(db, rooms=8, per_room=5)

    # Far more waiting: deep queues in the same rooms, and 200 more rooms whose heads are retried
    # later (in back-off after their receiver failed).
    await _queue(db, dict.fromkeys(taken, 250))
    await _queue(db, {str(uuid.uuid4()): 10 for _ in range(200)}, due_in=3600)
    large_runs, large_work = await _claim_work(db, rooms=8, per_room=5)

    assert {run.room_id for run in small_runs} == set(taken)
    assert _ids(large_runs) == _ids(small_runs)  # each room's five oldest, both times
    assert all(len(run.deliveries) == 5 for run in large_runs)
    # 4,000 more deliveries waiting (62 times as many), and the claim's work barely moved.
    assert large_work < small_work * 1.5, (small_work, large_work)


async def test_a_room_whose_head_is_not_due_is_handed_back_with_its_due_time(app: Any) -> None:
    db: Database = app.context.db
    room = str(uuid.uuid4())
    await _queue(db, {room: 3}, due_in=600)
    async with db.unit_of_work() as uow:
        # The queue row says due now (as a migrated database's may); the head says otherwise.
        await uow.session.execute(
            WebhookRoomQueue.__table__.update().values(due_at=utcnow() - timedelta(seconds=1))
        )
    async with db.unit_of_work() as uow:
        (run,) = await _claim(uow.session, rooms=10, per_room=5)
        assert run.deliveries == []
        assert run.head_due_at is not None and run.head_due_at > utcnow() + timedelta(seconds=500)
        await OutboxRepository(uow.session).reschedule(ENDPOINT, {room: run.head_due_at}, owner=OWNER)
    async with db.unit_of_work() as uow:
        assert await _claim(uow.session, rooms=10, per_room=5) == []  # not due: not leased again


async def test_a_room_settled_with_nothing_pending_loses_its_queue(app: Any) -> None:
    db: Database = app.context.db
    room = str(uuid.uuid4())
    await _queue(db, {room: 2})
    async with db.unit_of_work() as uow:
        (run,) = await _claim(uow.session, rooms=10, per_room=5)
    async with db.unit_of_work() as uow:
        repository = OutboxRepository(uow.session)
        await repository.mark_delivered([d.id for d in run.deliveries], now=utcnow(), status=200)
        await repository.reschedule(ENDPOINT, {room: utcnow()}, owner=OWNER)

    assert await _queue_rows(db) == 0


async def test_a_delivery_committed_while_its_room_is_settled_keeps_the_room_queued(app: Any) -> None:
    """The settle sees its room empty and removes its queue, while a commit is adding to that room:
    the settle must wait for that commit, or the new delivery would have no queue and never go."""
    db: Database = app.context.db
    room = str(uuid.uuid4())
    await _queue(db, {room: 1})
    async with db.unit_of_work() as uow:
        (run,) = await _claim(uow.session, rooms=10, per_room=5)

    written, release = asyncio.Event(), asyncio.Event()

    async def commit_one_more() -> None:
        events, deliveries = _rows({room: 1})
        async with db.unit_of_work() as uow:
            repository = OutboxRepository(uow.session)
            await repository.lock_rooms([room])
            await repository.add_events(events)
            await repository.add_deliveries(deliveries)
            written.set()
            await release.wait()

    async def settle() -> None:
        async with db.unit_of_work() as uow:
            repository = OutboxRepository(uow.session)
            await repository.mark_delivered([d.id for d in run.deliveries], now=utcnow(), status=200)
            await repository.reschedule(ENDPOINT, {room: utcnow()}, owner=OWNER)

    writer = asyncio.create_task(commit_one_more())
    await written.wait()
    settling = asyncio.create_task(settle())
    await asyncio.sleep(0.5)  # time for a settle that does not wait to finish
    release.set()
    await asyncio.gather(writer, settling)

    async with db.unit_of_work() as uow:
        (again,) = await _claim(uow.session, rooms=10, per_room=5)
    assert again.room_id == room and len(again.deliveries) == 1
    assert again.deliveries[0].id != run.deliveries[0].id


async def _queue_rows(db: Database) -> int:
    async with db.unit_of_work() as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(WebhookRoomQueue)) or 0)
