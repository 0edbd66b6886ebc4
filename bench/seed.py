"""Fresh databases for the benchmark and the rows it needs, written straight through SQLAlchemy
core (batched inserts) after the service's own migrations have created the schema.

A database is a temp SQLite file or a throwaway PostgreSQL database; ``Databases.drop_all``
removes every one this run created, on success or failure.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tutorhub_messaging.db.migrate import upgrade
from tutorhub_messaging.db.models import ChatMessage, Conversation, ReadState

POSTGRES_ADMIN_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BATCH = 5_000


async def _admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@dataclass
class Databases:
    """Every database this run created, so each can be dropped at the end."""

    temp_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tutorhub-bench-")))
    postgres_names: list[str] = field(default_factory=list)

    def create(self, kind: str) -> str:
        """A new, migrated, empty database; its URL."""
        if kind == "sqlite":
            url = f"sqlite+aiosqlite:///{self.temp_dir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        else:
            name = f"tutorhub_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
            asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
            self.postgres_names.append(name)
            url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        upgrade(url)
        return url

    def drop_all(self) -> None:
        for name in self.postgres_names:
            try:
                asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            except Exception as exc:  # keep dropping the others
                print(f"could not drop database {name}: {exc}")
        self.postgres_names.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@dataclass(frozen=True)
class Room:
    room_id: str
    participant_a: str
    participant_b: str


def _conversation_row(room: Room, now: datetime, last_at: datetime | None) -> dict[str, Any]:
    return {
        "id": room.room_id,
        "conversation_type": "studentTutor",
        "conversation_type_idx": 0,
        "participant_a": room.participant_a,
        "participant_b": room.participant_b,
        "enrollment_id": None,
        "last_message_at": last_at,
        "last_message_preview": "seeded" if last_at else None,
        "status": "active",
        "status_idx": 0,
        "participant_a_name": "Student",
        "participant_b_name": "Tutor",
        "course_title": "Benchmark course",
        "is_active": True,
        "record_version": 0,
        "created_at": now,
        "updated_at": now,
        "owner": room.participant_a,
    }


def _seed_engine(url: str) -> AsyncEngine:
    """An engine for bulk loading. On SQLite the load skips fsync (a crash would only lose the
    benchmark's own throwaway data); the service later opens the file with its own settings."""
    engine = create_async_engine(url)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _fast_load(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB of page cache for the indexes
            cursor.close()

    return engine


def _message_row(room_id: str, sender: str, sender_name: str, k: int, at: datetime) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "room_id": room_id,
        "sender_id": sender,
        "sender_name": sender_name,
        "sender_avatar": None,
        "message_type": "text",
        "message_type_idx": 0,
        "content": {"body": f"Seeded message {k} of this conversation"},
        "timestamp": at,
        "status": "approved",
        "status_idx": 1,
        "reply_to": None,
        "forwarded": False,
        "client_message_id": None,
        "is_active": True,
        "record_version": 0,
        "created_at": at,
        "updated_at": at,
        "owner": sender,
    }


async def _insert(engine: AsyncEngine, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        async with engine.begin() as conn:
            await conn.execute(insert(table), rows[start : start + BATCH])


async def _analyze(engine: AsyncEngine) -> None:
    # Fresh statistics, as a database that has been running would have.
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))


def new_rooms(count: int, *, participant_a: str | None = None) -> list[Room]:
    """2-user rooms; each with two new users unless ``participant_a`` is shared."""
    return [
        Room(str(uuid.uuid4()), participant_a or str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(count)
    ]


async def _seed_rooms(url: str, rooms: list[Room]) -> None:
    engine = _seed_engine(url)
    try:
        now = datetime.now(UTC)
        await _insert(engine, Conversation.__table__, [_conversation_row(r, now, None) for r in rooms])
        await _analyze(engine)
    finally:
        await engine.dispose()


def seed_rooms(url: str, rooms: list[Room]) -> None:
    asyncio.run(_seed_rooms(url, rooms))


@dataclass(frozen=True)
class HistoryData:
    user_id: str
    user_rooms: list[str]
    messages: int
    rooms: int
    seconds: float


def message_counts(total: int, rooms: int, user_rooms: int, user_minimum: int) -> list[int]:
    """Messages per room: the user's rooms first (each at least ``user_minimum``, so every join
    returns a full history page), the rest of ``total`` spread evenly over the other rooms."""
    per_room = total // rooms
    mine = max(user_minimum, per_room)
    remaining = total - mine * user_rooms
    others = rooms - user_rooms
    base, extra = divmod(remaining, others)
    return [mine] * user_rooms + [base + (1 if i < extra else 0) for i in range(others)]


async def _seed_history(
    url: str, *, total: int, rooms: int, user_rooms: int, unread: int, history_page: int
) -> HistoryData:
    started = asyncio.get_running_loop().time()
    user_id = str(uuid.uuid4())
    room_list = new_rooms(user_rooms, participant_a=user_id) + new_rooms(rooms - user_rooms)
    counts = message_counts(total, rooms, user_rooms, history_page + 2 * unread)
    # Messages go in round by round over the rooms, in timestamp order, so ``seq`` (the insertion
    # order) agrees with time and each room's messages are spread over the whole table.
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    last_at: dict[str, datetime] = {}
    read_at: dict[str, datetime] = {}
    engine = _seed_engine(url)
    try:
        rows: list[dict[str, Any]] = []
        tick = 0
        for k in range(max(counts)):
            for room, count in zip(room_list, counts, strict=True):
                if k >= count:
                    continue
                at = base + timedelta(milliseconds=tick)
                tick += 1
                sender = room.participant_a if k % 2 == 0 else room.participant_b
                rows.append(_message_row(room.room_id, sender, "Student" if k % 2 == 0 else "Tutor", k, at))
                last_at[room.room_id] = at
                if k == count - 2 * unread - 1:
                    # The user has read everything but the last 2*unread messages, half of which
                    # are the other participant's: ``unread`` unread per room, at any size.
                    read_at[room.room_id] = at
                if len(rows) >= 20_000:
                    await _insert(engine, ChatMessage.__table__, rows)
                    rows = []
        await _insert(engine, ChatMessage.__table__, rows)
        now = datetime.now(UTC)
        await _insert(
            engine,
            Conversation.__table__,
            [_conversation_row(r, now, last_at.get(r.room_id)) for r in room_list],
        )
        await _insert(
            engine,
            ReadState.__table__,
            [
                {
                    "room_id": r.room_id,
                    "user_id": user_id,
                    "last_read_at": read_at[r.room_id],
                    "updated_at": now,
                }
                for r in room_list[:user_rooms]
            ],
        )
        await _analyze(engine)
    finally:
        await engine.dispose()
    seconds = asyncio.get_running_loop().time() - started
    return HistoryData(user_id, [r.room_id for r in room_list[:user_rooms]], total, rooms, seconds)


def seed_history(
    url: str, *, total: int, rooms: int, user_rooms: int = 100, unread: int = 5, history_page: int = 50
) -> HistoryData:
    return asyncio.run(
        _seed_history(
            url, total=total, rooms=rooms, user_rooms=user_rooms, unread=unread, history_page=history_page
        )
    )


async def _seed_conversations(url: str, rooms: list[tuple[Room, int]]) -> None:
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    now = datetime.now(UTC)
    engine = _seed_engine(url)
    try:
        rows: list[dict[str, Any]] = []
        last_at: dict[str, datetime] = {}
        for room, count in rooms:
            for k in range(count):
                at = base + timedelta(milliseconds=len(rows))
                rows.append(_message_row(room.room_id, room.participant_a, "Student", k, at))
                last_at[room.room_id] = at
        await _insert(engine, ChatMessage.__table__, rows)
        await _insert(
            engine,
            Conversation.__table__,
            [_conversation_row(room, now, last_at.get(room.room_id)) for room, _ in rooms],
        )
        await _analyze(engine)
    finally:
        await engine.dispose()


def seed_conversations(url: str, rooms: list[tuple[Room, int]]) -> None:
    """2-user rooms, each with its count of messages, all sent by its ``participant_a``."""
    asyncio.run(_seed_conversations(url, rooms))
