"""WAL checkpoints of the embedded SQLite database: never inside a commit on the event loop, but
on a worker thread every few commits, copying the whole WAL into the database file so the WAL
starts over. These tests use their own database files, whichever database the suite runs on."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from tutorhub_messaging.db.database import Database

EVERY = 5


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}")
    assert database.checkpoints is not None
    database.checkpoints.every = EVERY
    async with database.unit_of_work() as uow:
        await uow.session.execute(text("CREATE TABLE note (n INTEGER)"))
    yield database
    await database.dispose()


async def _write(database: Database, n: int) -> None:
    async with database.unit_of_work() as uow:
        await uow.session.execute(text("INSERT INTO note VALUES (:n)"), {"n": n})


async def _checkpoints_completed(database: Database, count: int) -> None:
    assert database.checkpoints is not None
    for _ in range(200):
        if database.checkpoints.completed >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{database.checkpoints.completed} checkpoints completed, expected {count}")


def _frames_in_wal(path: Path) -> int:
    other = sqlite3.connect(path)
    try:
        # PASSIVE on another connection: reports the WAL's length (and copies it, harmlessly).
        _busy, frames, _copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(frames)
    finally:
        other.close()


async def test_the_writer_does_not_checkpoint_inside_its_commits(database: Database) -> None:
    async with database.engine.connect() as conn:
        assert (await conn.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one() == 0


async def test_a_checkpoint_runs_on_a_worker_thread_after_every_few_commits(database: Database) -> None:
    threads: list[int] = []
    async with database.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        # sqlite3's trace callback: which thread runs each statement on the writer's connection.
        await raw.driver_connection.set_trace_callback(
            lambda sql: threads.append(threading.get_ident()) if "wal_checkpoint" in sql else None
        )
    for n in range(EVERY - 2):  # the CREATE TABLE was the first commit
        await _write(database, n)
    await asyncio.sleep(0.05)
    assert database.checkpoints is not None and database.checkpoints.completed == 0
    await _write(database, 99)
    await _checkpoints_completed(database, 1)
    assert threads and threading.get_ident() not in threads


async def test_a_checkpoint_copies_the_whole_wal_and_the_next_write_starts_it_over(
    database: Database, tmp_path: Path
) -> None:
    for n in range(EVERY - 1):
        await _write(database, n)
    await _checkpoints_completed(database, 1)
    # The database file alone, without its WAL, holds every committed row.
    copy = tmp_path / "file-only.db"
    shutil.copy(tmp_path / "service.db", copy)
    alone = sqlite3.connect(copy)
    try:
        assert alone.execute("SELECT count(*) FROM note").fetchone()[0] == EVERY - 1
    finally:
        alone.close()
    await _write(database, 100)
    # Started over: the WAL holds the one commit since the checkpoint, not the five before it.
    assert _frames_in_wal(tmp_path / "service.db") < EVERY


async def test_writes_carry_on_while_checkpoints_run_and_nothing_is_lost(database: Database) -> None:
    await asyncio.gather(*(_write(database, n) for n in range(20 * EVERY)))
    await _checkpoints_completed(database, 1)
    async with database.unit_of_work() as uow:
        assert (await uow.session.execute(text("SELECT count(*) FROM note"))).scalar_one() == 20 * EVERY


async def test_disposing_waits_for_a_checkpoint_in_progress(tmp_path: Path) -> None:
    path = tmp_path / "closing.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    assert database.checkpoints is not None
    database.checkpoints.every = 1
    async with database.unit_of_work() as uow:
        await uow.session.execute(text("CREATE TABLE note (n INTEGER)"))
        await uow.session.execute(text("INSERT INTO note VALUES (1)"))
    await database.dispose()  # a checkpoint was just started by that commit
    assert database.checkpoints.completed == 1
    check = sqlite3.connect(path)
    try:
        assert check.execute("SELECT n FROM note").fetchall() == [(1,)]
    finally:
        check.close()


async def test_each_checkpoint_times_its_two_steps(database: Database) -> None:
    """The finishing step holds the writer's connection: its time is a stall every write sees."""

    def count(step: str) -> float:
        value = REGISTRY.get_sample_value("messaging_sqlite_checkpoint_seconds_count", {"step": step})
        return value or 0.0

    before = {step: count(step) for step in ("catch-up", "finish")}
    for n in range(EVERY):
        await _write(database, n)
    await _checkpoints_completed(database, 1)

    assert count("catch-up") == before["catch-up"] + 1
    assert count("finish") == before["finish"] + 1
