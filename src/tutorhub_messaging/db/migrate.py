"""Apply Alembic migrations programmatically (``tutorhub-messaging migrate`` and ``serve``).

Processes that start at once (a rolling deploy, ``serve`` next to ``migrate``) take turns: the
first brings the schema up to date and the others then find nothing to do. On PostgreSQL the
migration transaction holds a transaction-level advisory lock (``env.py``); on SQLite an exclusive
``flock`` on a lock file next to the database file is held around the whole upgrade.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The key of the PostgreSQL advisory lock migrations take: a constant no other lock of the service uses.
MIGRATION_LOCK_KEY = 7_408_311_203_125_433


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


@contextmanager
def _one_at_a_time(url: str) -> Iterator[None]:
    """On a SQLite file, hold an exclusive lock on ``<file>.migrate-lock`` (a separate file: closing
    a descriptor of the database file itself would drop SQLite's own locks in this process)."""
    path = _sqlite_file(url)
    if path is None:
        yield  # PostgreSQL serialises in env.py; an in-memory database has one user
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{path}.migrate-lock", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)  # released when the file is closed
        yield


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema. Safe to call from a running loop's thread."""
    with _one_at_a_time(url):
        command.upgrade(alembic_config(url), "head")


async def upgrade_async(url: str) -> None:
    # env.py runs its own event loop, so it must run outside ours.
    await asyncio.to_thread(upgrade, url)
