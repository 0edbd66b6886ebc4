"""SQLite: the embedded default. One connection per process, statements run on the event loop.

aiosqlite normally runs every call (cursor, execute, fetch, close, commit) on a worker thread and
hands the result back to the event loop. Each hand-off costs two thread switches and a contest for
the GIL with the busy event loop: measured, a unit of work of six statements took ~3 ms of CPU
that way and ~0.6 ms run in place (see docs/decisions/performance.md). The service's statements
are short (indexed look-ups, appends of a few rows, WAL commits that do not sync), so they run
directly on the event loop's thread: the connection below is aiosqlite's, with its hand-off
replaced by a direct call. SQLAlchemy's async layer on top is unchanged.

What that trades: while a statement runs, this process serves nothing else. So the one kind of
read that may scan a whole table (message search across rooms) goes through a second, read-only
engine whose connections are stock aiosqlite on worker threads: in WAL mode it reads a snapshot
without blocking the writer, and the event loop carries on meanwhile. SQLite stays the
single-process default, and PostgreSQL the database for heavy deployments.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

T = TypeVar("T")

# Another process holding the write lock (a second `serve` on the same file, a backup) makes a
# transaction wait this long for it before failing with 503.
BUSY_TIMEOUT_MS = 10_000


class InPlaceConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the caller's thread (the event loop's)."""

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")  # what aiosqlite raises, which SQLAlchemy maps
        return fn(*args, **kwargs)


def create_sqlite_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    connect_args, connect_kwargs = parsed.get_dialect()().create_connect_args(parsed)
    [database] = connect_args

    async def connect() -> aiosqlite.Connection:
        # aiosqlite.connect's connector, with the same arguments SQLAlchemy would have given it.
        return await InPlaceConnection(lambda: sqlite3.connect(database, **connect_kwargs), 64)

    # One connection per process: SQLite has one writer anyway, and the pool queue then
    # serialises units of work without "database is locked" errors.
    engine = create_async_engine(url, async_creator=connect, pool_size=1, max_overflow=0, pool_timeout=30)
    _on_every_connection(
        engine,
        pragmas=(
            "journal_mode=WAL",
            # NORMAL in WAL mode: a commit survives a process crash; FULL would also survive power loss.
            "synchronous=NORMAL",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
            "foreign_keys=ON",
        ),
        # IMMEDIATE takes the write lock up front, so two processes never deadlock on an upgrade.
        begin="BEGIN IMMEDIATE",
    )
    return engine


# Concurrent searches on their own connections; more wait for one at the pool.
SEARCH_CONNECTIONS = 2


def create_sqlite_search_engine(url: str) -> AsyncEngine:
    """Read-only connections on aiosqlite's worker threads, for reads that may take long."""
    engine = create_async_engine(url, pool_size=SEARCH_CONNECTIONS, max_overflow=0, pool_timeout=30)
    _on_every_connection(
        engine,
        pragmas=("query_only=ON", f"busy_timeout={BUSY_TIMEOUT_MS}"),
        # A deferred read transaction: one snapshot for the whole search (its count and its page),
        # and in WAL mode no lock that would keep the writer waiting.
        begin="BEGIN",
    )
    return engine


def _on_every_connection(engine: AsyncEngine, *, pragmas: tuple[str, ...], begin: str) -> None:
    """Set ``pragmas`` on each new connection, and open each transaction with ``begin``."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let the "begin" hook below issue BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in pragmas:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)
