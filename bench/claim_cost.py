"""What one webhook claim costs with a backlog of pending deliveries.

    python bench/claim_cost.py [--pending 1000,10000,100000] [--rooms 500] [--repeat 5]
                               [--database-url URL]

For each backlog size, on a fresh database (a temp SQLite file unless ``--database-url`` names an
empty, migratable PostgreSQL database, which is emptied between sizes), writes that many pending
deliveries of one endpoint spread over ``--rooms`` rooms, as the service's commits would, then
times one claim of 64 rooms by 20 events (what a worker round asks for), rolled back and repeated;
reports the best. A claim that reads only what it takes costs the same at every size.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import VENV_BIN
from sqlalchemy import text

from tutorhub_messaging.db.database import Database
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.outbox.events import delivery_row, event_row
from tutorhub_messaging.outbox.repository import OutboxRepository

ENDPOINT = "http://127.0.0.1:9/hooks"
CHUNK = 5000


def _migrate(url: str) -> None:
    env = {"MESSAGING_DATABASE_URL": url, "MESSAGING_LOG_LEVEL": "WARNING", "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [str(VENV_BIN / "tutorhub-messaging"), "migrate"], env=env, check=True, capture_output=True
    )


async def _fill(db: Database, pending: int, rooms: list[str]) -> None:
    now = utcnow()
    for start in range(0, pending, CHUNK):
        events, deliveries = [], []
        for index in range(start, min(pending, start + CHUNK)):
            event_id, room = str(uuid.uuid4()), rooms[index % len(rooms)]
            events.append(event_row(event_id, "chatMessage.created", room, "{}", now))
            deliveries.append(delivery_row(event_id, "chatMessage.created", ENDPOINT, room, now))
        async with db.unit_of_work() as uow:
            repository = OutboxRepository(uow.session)
            await repository.add_events(events)
            await repository.add_deliveries(deliveries)


async def _best_claim(db: Database, repeat: int) -> tuple[float, int]:
    best, taken = float("inf"), 0
    for _ in range(repeat):
        async with db.sessions() as session:
            now = utcnow()
            started = time.perf_counter()
            claimed = await OutboxRepository(session).claim(
                ENDPOINT,
                now=now,
                lease_until=now + timedelta(seconds=30),
                owner="bench",
                rooms=64,
                per_room=20,
            )
            best = min(best, time.perf_counter() - started)
            # Room runs (or, before room queues, the deliveries themselves).
            taken = sum(len(getattr(run, "deliveries", [run])) for run in claimed)
            await session.rollback()
    return best, taken


async def _measure(url: str, pending: int, args: argparse.Namespace) -> tuple[float, int]:
    _migrate(url)
    db = Database(url, pool_size=2)
    try:
        await _fill(db, pending, [str(uuid.uuid4()) for _ in range(args.rooms)])
        return await _best_claim(db, args.repeat)
    finally:
        await db.dispose()


async def _empty_postgres(url: str) -> None:
    db = Database(url, pool_size=1)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pending", default="1000,10000,100000")
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (emptied between sizes)")
    args = parser.parse_args()
    for pending in [int(part) for part in args.pending.split(",")]:
        with tempfile.TemporaryDirectory() as folder:
            if args.database_url:
                asyncio.run(_empty_postgres(args.database_url))
            url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'claim.db'}"
            seconds, taken = asyncio.run(_measure(url, pending, args))
        print(
            f"{pending:>7} pending over {args.rooms} rooms: "
            f"claim of {taken} deliveries {seconds * 1000:.1f} ms"
        )


if __name__ == "__main__":
    main()
