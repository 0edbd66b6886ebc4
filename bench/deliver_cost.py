"""CPU per event of ``tutorhub-messaging deliver``, the webhook worker alone.

    python bench/deliver_cost.py [--rate 1500] [--seconds 10] [--rooms 500] [--repeat 3]
                                 [--database-url URL]

Starts the Node benchmark receiver (answers 204 at once) and a ``deliver`` process of this
checkout on a fresh database (a temp SQLite file unless ``--database-url`` names an empty,
migratable one), then writes chatMessage events with their deliveries from this process at a
steady rate over many rooms, as the service's commits would, and waits until the receiver has
every one. Reports the ``deliver`` process's CPU seconds per event. Comparing two versions of the
worker: run it in each checkout, alternately, in one sitting.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from procs import LOADGEN_DIR, VENV_BIN, cpu_seconds, ensure_loadgen, free_port, wait_http_ok

from tutorhub_messaging.db.database import Database
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.ops.metrics import SQLITE_LOCK_WAITS
from tutorhub_messaging.outbox.events import delivery_row, event_row
from tutorhub_messaging.outbox.repository import OutboxRepository

TICK = 0.02
PAYLOAD = json.dumps(
    {
        "type": "chatMessage.created",
        "occurredAt": "2026-11-30T10:00:00.000Z",
        "data": {"id": str(uuid.uuid4()), "content": {"body": "hello there " * 10}, "isActive": True},
        "recipients": [{"userId": "u" * 20, "online": True}],
    }
)


async def _write(db: Database, endpoint: str, rooms: list[str], count: int) -> None:
    now = utcnow()
    events, deliveries = [], []
    for _ in range(count):
        event_id, room = str(uuid.uuid4()), random.choice(rooms)
        events.append(event_row(event_id, "chatMessage.created", room, PAYLOAD, now))
        deliveries.append(delivery_row(event_id, "chatMessage.created", endpoint, room, now))
    async with db.unit_of_work() as uow:
        repository = OutboxRepository(uow.session)
        await repository.lock_rooms({row["room_id"] for row in deliveries})
        await repository.add_events(events)
        await repository.add_deliveries(deliveries)


def _received(receiver: str) -> int:
    with urllib.request.urlopen(receiver + "/count", timeout=5) as response:
        return int(json.load(response)["ids"])


async def _feed(url: str, endpoint: str, args: argparse.Namespace) -> tuple[int, list[float]]:
    """Write events at ``args.rate`` for ``args.seconds``; returns how many, and how long each
    commit took (what the ``deliver`` process's own transactions make the service's wait)."""
    db = Database(url, pool_size=2)
    try:
        rooms = [str(uuid.uuid4()) for _ in range(args.rooms)]
        started = time.monotonic()
        written = 0
        durations = []
        while time.monotonic() - started < args.seconds:
            count = int(args.rate * TICK)
            writing = time.perf_counter()
            await _write(db, endpoint, rooms, count)
            durations.append(time.perf_counter() - writing)
            written += count
            await asyncio.sleep(max(0.0, started + written / args.rate - time.monotonic()))
        return written, durations
    finally:
        await db.dispose()


def measure(url: str, args: argparse.Namespace) -> tuple[float, list[float]]:
    """``deliver``'s CPU seconds per event, from the first event written to the last received,
    and the writer's commit durations."""
    env = {**os.environ, "MESSAGING_DATABASE_URL": url, "MESSAGING_LOG_LEVEL": "WARNING"}
    command = str(VENV_BIN / "tutorhub-messaging")
    subprocess.run([command, "migrate"], env=env, check=True, capture_output=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    receiver = subprocess.Popen(["node", str(LOADGEN_DIR / "receiver.js"), str(port)], cwd=LOADGEN_DIR)
    deliver = None
    try:
        wait_http_ok(base + "/health", timeout=10, process=receiver)
        env |= {
            "MESSAGING_WEBHOOK_URLS": json.dumps([base + "/hooks"]),
            "MESSAGING_WEBHOOK_SECRET": "s" * 32,
            "MESSAGING_WEBHOOK_DELIVERY": "separate",
        }
        deliver = subprocess.Popen([command, "deliver"], env=env)
        time.sleep(1.5)
        used_before = cpu_seconds(deliver.pid)
        started = time.monotonic()
        written, durations = asyncio.run(_feed(url, base + "/hooks", args))
        while _received(base) < written:
            if time.monotonic() - started > args.seconds + 120:
                raise SystemExit(f"the receiver got {_received(base)} of {written} events")
            time.sleep(0.05)
        return (cpu_seconds(deliver.pid) - used_before) / written, durations
    finally:
        for process in (deliver, receiver):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=int, default=1500, help="events written per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", help="an empty database to use instead of a temp SQLite file")
    args = parser.parse_args()
    ensure_loadgen()
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'deliver.db'}"
            per_event, durations = measure(url, args)
        durations.sort()
        p50, p99 = (1e3 * durations[int(q * (len(durations) - 1))] for q in (0.5, 0.99))
        print(
            f"{args.rate} events/s over {args.rooms} rooms: deliver CPU {per_event * 1e6:.0f} µs per event;"
            f" the writer's commits p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {1e3 * durations[-1]:.1f} ms"
            f" (waited for the lock {int(SQLITE_LOCK_WAITS._value.get())} times)"
        )


if __name__ == "__main__":
    main()
