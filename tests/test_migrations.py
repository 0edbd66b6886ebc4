"""Migrations on the suite's kind of database (SQLite, or PostgreSQL when configured): the schema
they build is the models' schema, and upgrading a database that already holds messages keeps every
message and the clientMessageId rule."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.databases import throwaway_database
from tutorhub_messaging.db.migrate import alembic_config
from tutorhub_messaging.db.models import Base
from tutorhub_messaging.db.revision import HEAD_REVISION
from tutorhub_messaging.db.types import UtcDateTime

_INSERT = sa.text(
    "INSERT INTO chat_message (id, room_id, sender_id, message_type, message_type_idx, content,"
    " timestamp, forwarded, client_message_id, is_active, record_version, created_at, updated_at)"
    " VALUES (:id, :room, :sender, 'text', 0, '{\"body\": \"hi\"}', :at, false, :client_id, true, 0,"
    " :at, :at)"
).bindparams(sa.bindparam("at", type_=UtcDateTime()))
_ROOM = str(uuid.uuid4())
_SENDER = str(uuid.uuid4())


@pytest.fixture
def fresh_url(tmp_path: Path) -> Iterator[str]:
    """An empty database of the suite's kind, for migrating step by step."""
    with throwaway_database(tmp_path, "tutorhub_migrate") as url:
        yield url


def _insert(conn: sa.Connection, client_id: str | None) -> None:
    conn.execute(
        _INSERT,
        {
            "id": str(uuid.uuid4()),
            "room": _ROOM,
            "sender": _SENDER,
            "at": datetime(2026, 11, 22, 10, 30, tzinfo=UTC),
            "client_id": client_id,
        },
    )


def _run_sync(url: str, work: Any) -> Any:
    """``work(connection)`` on the async engine's connection (the drivers the service uses)."""

    async def run() -> Any:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                return await conn.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _versions(conn: sa.Connection) -> list[Any]:
    return list(conn.execute(sa.text("SELECT version_num FROM alembic_version")))


def test_the_migrated_schema_is_the_models_schema(fresh_url: str) -> None:
    command.upgrade(alembic_config(fresh_url), "head")

    def differences(conn: sa.Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    assert _run_sync(fresh_url, differences) == []


def test_upgrading_keeps_messages_and_the_client_message_id_rule(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    command.upgrade(config, "0001")

    def store_before(conn: sa.Connection) -> list[Any]:
        for client_id in (None, None, "client-1"):
            _insert(conn, client_id)
        return list(conn.execute(sa.text("SELECT seq, id, client_message_id FROM chat_message ORDER BY seq")))

    before = _run_sync(fresh_url, store_before)

    command.upgrade(config, "head")

    def read(conn: sa.Connection) -> list[Any]:
        return list(conn.execute(sa.text("SELECT seq, id, client_message_id FROM chat_message ORDER BY seq")))

    assert _run_sync(fresh_url, read) == before

    # Messages without a clientMessageId are never duplicates of each other...
    _run_sync(fresh_url, lambda conn: _insert(conn, None))
    # ...and the same clientMessageId from the same sender in the same room is still refused.
    with pytest.raises(sa.exc.IntegrityError):
        _run_sync(fresh_url, lambda conn: _insert(conn, "client-1"))
    assert len(_run_sync(fresh_url, read)) == 4


def test_downgrading_restores_the_unique_constraint(fresh_url: str) -> None:
    config = alembic_config(fresh_url)
    command.upgrade(config, "head")
    _run_sync(fresh_url, lambda conn: _insert(conn, "client-1"))
    command.downgrade(config, "0001")

    with pytest.raises(sa.exc.IntegrityError):
        _run_sync(fresh_url, lambda conn: _insert(conn, "client-1"))
    _run_sync(fresh_url, lambda conn: _insert(conn, None))


_DELIVERY = sa.text(
    "INSERT INTO webhook_delivery (event_id, event_type, endpoint, room_id, status, attempts,"
    " next_attempt_at, retry_from, lease_until, leased_by, created_at, updated_at)"
    " VALUES (:event, 'chatMessage.created', 'http://hooks.example/in', :room, :status, 0, :due,"
    " :at, :at, 'a-process-gone', :at, :at)"
).bindparams(*(sa.bindparam(name, type_=UtcDateTime()) for name in ("due", "at")))


def test_upgrading_gives_every_room_with_pending_deliveries_a_queue_due_with_its_earliest(
    fresh_url: str,
) -> None:
    config = alembic_config(fresh_url)
    command.upgrade(config, "0004_partial_delivery_indexes")
    at = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    later = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    rows = [("room-a", "pending", later), ("room-a", "pending", at), ("room-b", "pending", later)]
    rows += [("room-c", "delivered", at), ("room-d", "dead", at)]

    def store(conn: sa.Connection) -> None:
        for room, status, due in rows:
            conn.execute(
                _DELIVERY, {"event": str(uuid.uuid4()), "room": room, "status": status, "due": due, "at": at}
            )

    _run_sync(fresh_url, store)
    command.upgrade(config, "head")

    def read(conn: sa.Connection) -> tuple[list[Any], list[Any]]:
        queues = conn.execute(
            sa.text("SELECT room_id, due_at, lease_until FROM webhook_room_queue ORDER BY room_id")
        ).all()
        leases = conn.execute(
            sa.text("SELECT DISTINCT leased_by FROM webhook_delivery WHERE status = 'pending'")
        )
        return [
            (room, UtcDateTime().process_result_value(due, conn.dialect), lease)
            for room, due, lease in queues
        ], list(leases)

    queues, leases = _run_sync(fresh_url, read)
    assert queues == [("room-a", at, None), ("room-b", later, None)]
    assert leases == [(None,)]  # the old per-delivery leases are given up: the room's lease is what counts


CLI = str(Path(sys.executable).with_name("tutorhub-messaging"))
STARTING_AT_ONCE = 4


def test_processes_migrating_a_fresh_database_at_once_all_succeed(fresh_url: str) -> None:
    """A rolling deploy starts several processes on a database nobody has migrated yet: they take
    turns, the first builds the schema and the others find it built."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESSAGING_")}
    env["MESSAGING_DATABASE_URL"] = fresh_url
    processes = [
        subprocess.Popen([CLI, "migrate"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(STARTING_AT_ONCE)
    ]
    results = [(process.wait(timeout=120), process.communicate()[1]) for process in processes]

    assert [code for code, _ in results] == [0] * STARTING_AT_ONCE, results

    head = ScriptDirectory.from_config(alembic_config(fresh_url)).get_current_head()
    assert _run_sync(fresh_url, _versions) == [(head,)]


def test_the_head_revision_the_service_knows_is_the_newest_migration() -> None:
    """``serve`` skips Alembic on a database at ``HEAD_REVISION``: a migration added without moving
    the constant would never be applied by a restart."""
    assert ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head() == HEAD_REVISION


_MIGRATE_AND_LIST_ALEMBIC = (
    "import sys\n"
    "from tutorhub_messaging.cli import _migrate\n"
    "from tutorhub_messaging.settings import load_settings\n"
    "revision = _migrate(load_settings(database_url=sys.argv[1], jwt_secret='x' * 40))\n"
    "print(revision, any(name.split('.')[0] == 'alembic' for name in sys.modules))\n"
)


def _start_migration_step(url: str) -> tuple[str, bool]:
    """What ``serve``'s migration step reports, and whether it imported Alembic, in a new process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESSAGING_")}
    result = subprocess.run(
        [sys.executable, "-c", _MIGRATE_AND_LIST_ALEMBIC, url],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    revision, imported = result.stdout.split()
    return revision, imported == "True"


def test_a_start_on_an_up_to_date_database_leaves_alembic_unimported(fresh_url: str) -> None:
    command.upgrade(alembic_config(fresh_url), "head")

    assert _start_migration_step(fresh_url) == (HEAD_REVISION, False)


def test_a_start_on_an_older_database_still_migrates_it(fresh_url: str) -> None:
    command.upgrade(alembic_config(fresh_url), "0004_partial_delivery_indexes")

    assert _start_migration_step(fresh_url) == (HEAD_REVISION, True)

    assert _run_sync(fresh_url, _versions) == [(HEAD_REVISION,)]
