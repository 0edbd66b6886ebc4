"""What hub:send's group commit costs the service's process, per batch size.

    python bench/store_cost.py [--sizes 1,10,50,200] [--messages 4000] [--database-url URL]

On a fresh database (a temp SQLite file unless ``--database-url`` names an empty, migratable
PostgreSQL database), builds the service as ``serve`` does (its garbage collector tuned the same
way), seeds 300 two-user rooms, then stores ``--messages`` sends through ``send_many`` in units of
work of each batch size, exactly as the group commit does: checks, rows, read state, inbox
preview, outbox event, COMMIT, and the broadcast queued after it (to nobody: no socket is
connected). Reports the process's CPU per batch and per message, so the fixed cost of a unit of
work and the cost of each message in it can be told apart. The database server's own CPU is not
counted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import uvloop
from claim_cost import _migrate
from seed import Room, new_rooms, seed_rooms

from tutorhub_messaging.app import create_app
from tutorhub_messaging.cli import tune_garbage_collector
from tutorhub_messaging.hub.sending import SendRequest, send_many
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.messages.service import NewMessage
from tutorhub_messaging.settings import load_settings

ROOMS = 300
WARM_UP_BATCHES = 5


async def _measure(url: str, rooms: list[Room], sizes: list[int], messages: int) -> list[tuple[int, float]]:
    settings = load_settings(
        database_url=url, jwt_secret="bench-" * 8, log_level="WARNING", message_rate_per_minute=10**9
    )
    app = create_app(settings)
    context = app.context
    tune_garbage_collector()
    senders = [
        (room.room_id, Principal(user, frozenset({role}), fullname=f"Bench {role}"))
        for room in rooms
        for user, role in ((room.participant_a, "student"), (room.participant_b, "tutor"))
    ]
    results = []
    try:
        for size in sizes:
            batches = max(20, messages // size)

            def batch(number: int, size: int = size) -> list[SendRequest]:
                picks = (senders[(number * size + index) % len(senders)] for index in range(size))
                return [
                    SendRequest(principal, room_id, NewMessage("text", {"body": f"message {number}"}))
                    for room_id, principal in picks
                ]

            for number in range(WARM_UP_BATCHES):
                async with context.db.unit_of_work() as uow:
                    await send_many(uow, context, batch(number), via="socket")
            started = time.process_time()
            for number in range(batches):
                async with context.db.unit_of_work() as uow:
                    outcomes = await send_many(uow, context, batch(number), via="socket")
                refused = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
                if refused:
                    raise RuntimeError(f"a send was refused: {refused[0]!r}")
            results.append((size, (time.process_time() - started) / batches))
    finally:
        await context.db.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1,10,50,200")
    parser.add_argument("--messages", type=int, default=4000, help="sends stored per batch size")
    parser.add_argument("--database-url", help="an empty PostgreSQL database")
    args = parser.parse_args()
    sizes = [int(part) for part in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'store.db'}"
        _migrate(url)
        rooms = new_rooms(ROOMS)
        seed_rooms(url, rooms)
        results = uvloop.run(_measure(url, rooms, sizes, args.messages))
    for size, seconds in results:
        per_batch = seconds * 1e6
        per_message = per_batch / size
        print(f"batches of {size:>3}: {per_batch:>7,.0f} µs of CPU a batch, {per_message:>6,.0f} a message")


if __name__ == "__main__":
    main()
