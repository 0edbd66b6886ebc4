"""What storing a message writes on SQLite, at two schema revisions side by side.

    python bench/write_cost.py [--revisions 0001,head] [--messages 160000]

Migrates a temp SQLite database to each revision, then stores the same messages in each (500
rooms, batches of 8 as hub:send's group commit makes them under load, rows built by the service's
own ``message_row``), and reports the WAL pages written per message, the database bytes per message
and the time taken. Pages are counted, not timed, so the comparison holds on a busy machine.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from alembic import command

from tutorhub_messaging.db.migrate import alembic_config
from tutorhub_messaging.db.models import ChatMessage
from tutorhub_messaging.messages.service import Sender, message_row

ROOMS = 500
BATCH = 8
CHECKPOINT_EVERY = 1_000  # batches; the WAL is measured, then emptied


def measure(path: Path, revision: str, messages: int) -> dict[str, float]:
    command.upgrade(alembic_config(f"sqlite+aiosqlite:///{path}"), revision)
    random.seed(1)
    rooms = [(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(ROOMS)]
    insert = sa.insert(ChatMessage.__table__)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        conn.commit()
        wal = Path(f"{path}-wal")
        wal_bytes = 0
        at = datetime(2026, 11, 22, tzinfo=UTC)
        started = time.perf_counter()
        for batch in range(messages // BATCH):
            rows = []
            for index in range(BATCH):
                room, a, b = random.choice(rooms)
                sender = Sender(a if index % 2 else b, "Bench user", None)
                at += timedelta(milliseconds=1)
                body = {"body": f"message {batch}.{index}"}
                row = message_row(room, sender, "text", body, status="approved", at=at, forwarded=False)
                rows.append(row)
            conn.execute(insert, rows)
            conn.commit()
            if batch % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
                wal_bytes += wal.stat().st_size
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        seconds = time.perf_counter() - started
        wal_bytes += wal.stat().st_size
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
    engine.dispose()
    stored = (messages // BATCH) * BATCH
    with sqlite3.connect(path) as check:
        assert check.execute("SELECT count(*) FROM chat_message").fetchone()[0] == stored
    return {
        "wal_pages": wal_bytes / page_size / stored,
        "db_bytes": path.stat().st_size / stored,
        "seconds": seconds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--revisions", default="0001,head")
    parser.add_argument("--messages", type=int, default=160_000)
    args = parser.parse_args()
    print(f"{args.messages:,} messages, {ROOMS} rooms, batches of {BATCH}\n")
    print("| Schema revision | WAL pages per message | Database bytes per message | Time (s) |")
    print("|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="bench-write-") as folder:
        for revision in args.revisions.split(","):
            result = measure(Path(folder) / f"{revision}.db", revision, args.messages)
            pages, size, seconds = result["wal_pages"], result["db_bytes"], result["seconds"]
            print(f"| {revision} | {pages:.2f} | {size:.0f} | {seconds:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
