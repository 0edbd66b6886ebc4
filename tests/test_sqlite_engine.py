"""The embedded SQLite engine: statements run on the event loop's own thread, with the settings
the service relies on (WAL, foreign keys, waits for a lock off the event loop, BEGIN IMMEDIATE);
searches read on read-only connections of their own, on worker threads. These tests use their
own database file, so they run the same whichever database the rest of the suite uses."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from tutorhub_messaging.db.database import Database
from tutorhub_messaging.db.sqlite import SEARCH_THREAD_NICENESS, create_sqlite_engine
from tutorhub_messaging.errors import Unavailable


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_sqlite_engine(f"sqlite+aiosqlite:///{tmp_path / 'engine.db'}")
    yield engine
    await engine.dispose()


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    yield database
    await database.dispose()


async def _thread_running_statements(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.create_function("thread_ident", 0, threading.get_ident)
        return int((await conn.execute(text("SELECT thread_ident()"))).scalar_one())


async def test_statements_run_on_the_event_loop_thread(engine: AsyncEngine) -> None:
    assert await _thread_running_statements(engine) == threading.get_ident()


async def test_every_connection_gets_wal_foreign_keys_and_no_busy_wait(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA journal_mode"))).scalar_one() == "wal"
        assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
        # Waits for another process's lock happen on the worker thread (next tests), not here.
        assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one() == 0
        await conn.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        await conn.execute(text("CREATE TABLE child (parent_id INTEGER REFERENCES parent(id))"))
        await conn.commit()
        with pytest.raises(IntegrityError):
            await conn.execute(text("INSERT INTO child VALUES (42)"))


async def test_a_transaction_takes_the_write_lock_when_it_begins(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        async with database.unit_of_work() as uow:
            await uow.session.execute(text("SELECT 1"))
            # BEGIN IMMEDIATE: even a transaction that has only read holds the write lock.
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # released at commit
        other.execute("ROLLBACK")
    finally:
        other.close()
        await database.dispose()


async def _shared_file(path: Path) -> tuple[Database, sqlite3.Connection]:
    """The service's database on ``path`` with a ``note`` table, and another process's connection
    to the same file (no busy timeout: it fails at once where it would wait)."""
    database = Database(f"sqlite+aiosqlite:///{path}")
    async with database.unit_of_work() as uow:
        await uow.session.execute(text("CREATE TABLE note (body TEXT)"))
    return database, sqlite3.connect(path, timeout=0, isolation_level=None)


async def test_a_reading_unit_of_work_leaves_the_write_lock_to_others(tmp_path: Path) -> None:
    """``Database.reading`` begins without the write lock: another process (the service, when
    this is a ``deliver`` process reading what it leased) can write meanwhile."""
    database, other = await _shared_file(tmp_path / "reading.db")
    async with database.unit_of_work() as uow:
        await uow.session.execute(text("INSERT INTO note VALUES ('before')"))
    try:
        async with database.reading() as uow:
            assert (await uow.session.execute(text("SELECT count(*) FROM note"))).scalar_one() == 1
            other.execute("BEGIN IMMEDIATE")  # would raise "database is locked" under a unit of work
            other.execute("INSERT INTO note VALUES ('meanwhile')")
            other.execute("COMMIT")
            # One snapshot for the whole read.
            assert (await uow.session.execute(text("SELECT count(*) FROM note"))).scalar_one() == 1
        async with database.unit_of_work() as uow:  # the next unit of work takes the lock again
            assert (await uow.session.execute(text("SELECT count(*) FROM note"))).scalar_one() == 2
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        await database.dispose()


async def _ticks_while(work: asyncio.Future[object] | asyncio.Task[object], period: float = 0.005) -> int:
    """How many times a task of the same event loop woke up while ``work`` ran."""
    ticks = 0
    while not work.done():
        await asyncio.sleep(period)
        ticks += 1
    return ticks


async def test_waiting_for_another_process_lock_keeps_the_event_loop_running(tmp_path: Path) -> None:
    """Another process (a ``deliver``, a backup) holding the write lock: the unit of work waits
    for it and then commits, and the event loop serves everything else meanwhile. With SQLite's
    busy handler sleeping on the loop's thread, nothing else ran until the lock was free."""
    database, other = await _shared_file(tmp_path / "shared.db")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO note VALUES ('the other process')")
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, other.execute, "COMMIT")

    async def write() -> None:
        async with database.unit_of_work() as uow:
            await uow.session.execute(text("INSERT INTO note VALUES ('the service')"))

    try:
        started = loop.time()
        writing = asyncio.create_task(write())
        ticks = await _ticks_while(writing)
        await writing
        waited = loop.time() - started
        assert waited >= 0.29  # it did wait for the lock
        assert ticks >= 20  # and the loop ran all along (a tick is 5 ms; 300 ms of waiting)
        async with database.unit_of_work() as uow:
            rows = (await uow.session.execute(text("SELECT body FROM note ORDER BY rowid"))).scalars()
            assert list(rows) == ["the other process", "the service"]
            # Back to failing fast on the loop once the wait is over.
            assert (await uow.session.execute(text("PRAGMA busy_timeout"))).scalar_one() == 0
    finally:
        other.close()
        await database.dispose()


async def test_a_lock_held_past_the_busy_timeout_gives_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tutorhub_messaging.db.sqlite.BUSY_TIMEOUT_MS", 200)
    database, other = await _shared_file(tmp_path / "held.db")
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(Unavailable):
            async with database.unit_of_work() as uow:
                await uow.session.execute(text("INSERT INTO note VALUES ('never')"))
        other.execute("ROLLBACK")
        async with database.unit_of_work() as uow:  # the connection is usable again
            await uow.session.execute(text("INSERT INTO note VALUES ('later')"))
            assert (await uow.session.execute(text("SELECT count(*) FROM note"))).scalar_one() == 1
    finally:
        other.close()
        await database.dispose()


async def test_units_of_work_from_many_tasks_are_serialised_on_the_one_connection(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.session.execute(text("CREATE TABLE counter (n INTEGER)"))
        await uow.session.execute(text("INSERT INTO counter VALUES (0)"))

    async def increment() -> None:
        async with database.unit_of_work() as uow:
            n = (await uow.session.execute(text("SELECT n FROM counter"))).scalar_one()
            await asyncio.sleep(0)  # let the other tasks try to get in between
            await uow.session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})

    await asyncio.gather(*(increment() for _ in range(50)))
    async with database.unit_of_work() as uow:
        assert (await uow.session.execute(text("SELECT n FROM counter"))).scalar_one() == 50


async def test_searches_read_on_a_worker_thread_and_cannot_write(database: Database) -> None:
    async with database.unit_of_work() as uow:
        await uow.session.execute(text("CREATE TABLE note (body TEXT)"))
        await uow.session.execute(text("INSERT INTO note VALUES ('committed')"))
    assert database.search_engine is not None
    assert await _thread_running_statements(database.search_engine) != threading.get_ident()

    async with database.search() as uow:
        assert (await uow.session.execute(text("SELECT body FROM note"))).scalar_one() == "committed"
    with pytest.raises(Unavailable) as refused:
        async with database.search() as uow:
            await uow.session.execute(text("INSERT INTO note VALUES ('sneaked in')"))
    assert isinstance(refused.value.__cause__, OperationalError)
    assert "readonly" in str(refused.value.__cause__)
    async with database.unit_of_work() as uow:
        assert (await uow.session.execute(text("SELECT count(*) FROM note"))).scalar_one() == 1


def _niceness_of_this_thread() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


async def _niceness_running_statements(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        await raw.driver_connection.create_function("thread_niceness", 0, _niceness_of_this_thread)
        return int((await conn.execute(text("SELECT thread_niceness()"))).scalar_one())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are Linux's")
async def test_searches_run_at_the_lowest_cpu_priority_and_nothing_else_does(database: Database) -> None:
    """A search scans on a thread of the service's process: at the lowest priority it gets the
    CPU that the event loop (sends, joins) leaves, not an equal share of it."""
    assert database.search_engine is not None
    process_niceness = _niceness_of_this_thread()
    assert process_niceness < SEARCH_THREAD_NICENESS  # else there is nothing to show
    assert await _niceness_running_statements(database.search_engine) == SEARCH_THREAD_NICENESS
    assert await _niceness_running_statements(database.engine) == process_niceness
    assert _niceness_of_this_thread() == process_niceness


async def test_a_search_in_progress_keeps_neither_the_writer_nor_the_event_loop_waiting(
    database: Database,
) -> None:
    async with database.unit_of_work() as uow:
        await uow.session.execute(text("CREATE TABLE note (body TEXT)"))
    assert database.search_engine is not None
    release = threading.Event()
    try:
        async with database.search_engine.connect() as conn:
            raw = await conn.get_raw_connection()
            # A "long scan": a SQL function that holds the search's statement until released.
            await raw.driver_connection.create_function("held", 0, lambda: release.wait(10))
            search = asyncio.create_task(conn.execute(text("SELECT held() FROM (SELECT 1)")))
            await asyncio.sleep(0.05)
            assert not search.done()
            # Meanwhile the event loop runs and the writer commits.
            async with database.unit_of_work() as uow:
                await uow.session.execute(text("INSERT INTO note VALUES ('written during the search')"))
            assert not search.done()
            release.set()
            assert (await search).scalar_one() == 1
    finally:
        release.set()
