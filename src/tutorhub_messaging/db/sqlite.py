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

import asyncio
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from tutorhub_messaging.ops.metrics import SQLITE_LOCK_WAITS, WAL_CHECKPOINTS

T = TypeVar("T")
log = logging.getLogger(__name__)

# Another process holding the write lock (a `deliver` process, a second `serve` on the same file, a
# backup) makes a transaction wait this long for it before failing with 503.
BUSY_TIMEOUT_MS = 10_000


# The execution option that makes a transaction on the writer's engine begin without the write lock.
READ_ONLY_OPTION = "tutorhub_read_only"

# While another process holds the lock, a call tries again this often.
LOCK_POLL_SECONDS = 0.001


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    """SQLite answered SQLITE_BUSY: another connection holds the lock this call needs."""
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


class InPlaceConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run on the caller's thread (the event loop's).

    Its busy timeout is zero, so a call never sleeps on the event loop's thread. When another
    process holds the write lock (a ``deliver`` process settling webhook deliveries, a backup),
    SQLite's busy handler would sleep there, 1, 2, 5, 10 ms and more, and every socket of the
    process would stall with it. Such a call fails at once with SQLITE_BUSY instead, and is tried
    again every ``LOCK_POLL_SECONDS`` while the event loop carries on, for up to
    ``BUSY_TIMEOUT_MS``. A call that failed with SQLITE_BUSY changed nothing, so trying it again
    is what SQLite's own busy handler would have done; a millisecond apart, it gets the lock
    soon after it is free (the busy handler's growing sleeps overshot by up to tens of ms)."""

    async def _execute(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")  # what aiosqlite raises, which SQLAlchemy maps
        try:
            return fn(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc):
                raise
        SQLITE_LOCK_WAITS.inc()
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            await asyncio.sleep(LOCK_POLL_SECONDS)
            try:
                return fn(*args, **kwargs)
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() > deadline:
                    raise

    async def on_worker_thread(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """``fn(connection)`` on aiosqlite's worker thread, the way aiosqlite runs every call: for
        the rare call that may take long (a checkpoint), while the event loop carries on."""
        result: T = await super()._execute(fn, self._conn)  # type: ignore[no-untyped-call]
        return result


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
            # Zero: waits for another process's lock happen off the event loop (InPlaceConnection).
            "busy_timeout=0",
            "foreign_keys=ON",
            # Checkpoints run off the event loop instead (WalCheckpoints below).
            "wal_autocheckpoint=0",
        ),
        # IMMEDIATE takes the write lock up front, so two processes never deadlock on an upgrade.
        begin="BEGIN IMMEDIATE",
    )
    return engine


# SQLite's progress handler runs every this many virtual-machine steps of a search (well under a
# millisecond of work), so a search stops soon after its deadline.
PROGRESS_STEPS = 10_000


class SearchConnection(aiosqlite.Connection):
    """A stock aiosqlite connection (calls on its worker thread) whose statements stop once the
    current transaction's ``deadline`` has passed: SQLite's progress handler, called every few
    thousand virtual-machine steps, then interrupts the statement ("interrupted")."""

    deadline: float = math.inf

    def _past_deadline(self) -> int:
        return 1 if time.monotonic() > self.deadline else 0


# The scheduling priority of the search threads (a Linux nice value; 19 is the lowest). A search
# scans on a thread of this process, beside the event loop that serves sends and joins; at the
# lowest priority it takes the CPU those leave instead of an equal share of it.
SEARCH_THREAD_NICENESS = 19


def _lower_this_threads_priority() -> None:
    """Run the calling thread at ``SEARCH_THREAD_NICENESS`` (a thread is a task of its own to
    Linux, so the rest of the process keeps its priority). Raising one's niceness needs no
    privilege; elsewhere than Linux the call fails and the thread keeps the process's priority."""
    try:
        thread = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, thread) < SEARCH_THREAD_NICENESS:
            os.setpriority(os.PRIO_PROCESS, thread, SEARCH_THREAD_NICENESS)
    except (AttributeError, OSError) as exc:
        log.debug("search thread keeps the process's priority: %s", exc)


def create_sqlite_search_engine(url: str, *, connections: int, timeout_seconds: float) -> AsyncEngine:
    """Read-only connections on aiosqlite's worker threads, at the lowest CPU priority, for reads
    that may take long; each transaction stops after ``timeout_seconds``."""
    parsed = make_url(url)
    connect_args, connect_kwargs = parsed.get_dialect()().create_connect_args(parsed)
    [database] = connect_args

    async def connect() -> aiosqlite.Connection:
        holder: list[SearchConnection] = []

        def open_connection() -> sqlite3.Connection:
            # Called on the connection's own worker thread, which runs each of its statements.
            _lower_this_threads_priority()
            raw = sqlite3.connect(database, **connect_kwargs)
            raw.set_progress_handler(lambda: holder[0]._past_deadline(), PROGRESS_STEPS)
            return raw

        connection = SearchConnection(open_connection, 64)
        holder.append(connection)
        return await connection

    engine = create_async_engine(
        url, async_creator=connect, pool_size=connections, max_overflow=0, pool_timeout=30
    )
    _on_every_connection(
        engine,
        pragmas=("query_only=ON", f"busy_timeout={BUSY_TIMEOUT_MS}"),
        # A deferred read transaction: one snapshot for the whole search (its count and its page),
        # and in WAL mode no lock that would keep the writer waiting.
        begin="BEGIN",
    )

    @event.listens_for(engine.sync_engine, "begin")
    def _start_the_clock(connection: Any) -> None:
        search_connection = connection.connection.dbapi_connection._connection
        search_connection.deadline = time.monotonic() + timeout_seconds

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
        # A transaction that only reads (Database.reading) takes no lock when it begins: in WAL
        # mode it reads a snapshot and keeps no other process's writer waiting.
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else begin)


# A checkpoint after this many commits: under inbox load a commit appends ~50-200 pages to the WAL.
CHECKPOINT_EVERY_COMMITS = 200
# The catching-up passes stop once one copied fewer pages than this, or after this many passes.
CATCH_UP_PAGES = 256
CATCH_UP_PASSES = 4
_CATCH_UP, _FINISH = (WAL_CHECKPOINTS.labels(step=step) for step in ("catch-up", "finish"))


class WalCheckpoints:
    """Checkpoints of the writer's WAL, off the event loop and mostly alongside the writer.

    A checkpoint copies the pages the WAL holds into the database file and syncs it. SQLite runs
    one itself inside the commit that takes the WAL past 1,000 pages: here that is on the event
    loop's thread, and the copy of thousands of pages stalled every socket of the process (inbox
    traffic at 1,400 msg/s: p99 88-305 ms with it, 46-50 ms without; docs/decisions/performance.md).
    So the writer's automatic checkpoints are off, and every ``CHECKPOINT_EVERY_COMMITS`` commits a
    task checkpoints in two steps:

    1. Catching up, on a connection of its own on aiosqlite's worker thread, while the writer
       carries on: PASSIVE checkpoints that copy what was committed before each began, repeated
       while one still had much to copy.
    2. Finishing, holding the writer's connection as a unit of work would (units of work wait for
       it at the pool, the event loop does not): one more PASSIVE checkpoint copies the few pages
       committed during step 1. With nothing written meanwhile the WAL is then fully copied, so
       the next write starts it over; checkpoints that only ever raced the writer could leave
       the WAL growing for as long as the traffic lasts.
    """

    def __init__(self, engine: AsyncEngine, *, every: int = CHECKPOINT_EVERY_COMMITS) -> None:
        self.engine = engine
        self.database = engine.url.database or ""
        self.every = every
        self.commits = 0
        self.completed = 0
        self._side: aiosqlite.Connection | None = None
        self._running: asyncio.Task[None] | None = None
        event.listen(engine.sync_engine, "commit", self._on_commit)

    def _on_commit(self, _connection: Any) -> None:
        self.commits += 1
        if self.commits >= self.every and self._running is None:
            self.commits = 0
            self._running = asyncio.get_running_loop().create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            if self._side is None:
                self._side = await aiosqlite.connect(self.database)
            copied_before = None
            started = time.perf_counter()
            for _ in range(CATCH_UP_PASSES):
                async with self._side.execute("PRAGMA wal_checkpoint(PASSIVE)") as cursor:
                    _busy, _in_wal, copied = await cursor.fetchone() or (0, 0, 0)
                if copied_before is not None and copied - copied_before < CATCH_UP_PAGES:
                    break
                copied_before = copied
            caught_up = time.perf_counter()
            _CATCH_UP.observe(caught_up - started)
            async with self.engine.connect() as connection:
                raw = await connection.get_raw_connection()
                driver = raw.driver_connection
                assert isinstance(driver, InPlaceConnection)
                holding = time.perf_counter()
                await driver.on_worker_thread(_passive_checkpoint)
                # The writer's connection was held this long: every unit of work waited.
                _FINISH.observe(time.perf_counter() - holding)
            self.completed += 1
        except Exception as exc:  # the WAL keeps every commit; the next checkpoint tries again
            log.warning("WAL checkpoint failed: %s", type(exc).__name__)
        finally:
            self._running = None

    async def close(self) -> None:
        """Let a checkpoint in progress finish, and close the side connection."""
        if self._running is not None:
            await asyncio.shield(self._running)
        if self._side is not None:
            await self._side.close()
            self._side = None


def _passive_checkpoint(connection: sqlite3.Connection) -> None:
    # PASSIVE never waits on a lock: with the writer's connection held, only a long reader on
    # another connection (a search) can keep frames back, and the next checkpoint copies them.
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
