"""The schema revision a database is at, read without Alembic.

``serve`` applies pending migrations when it starts. Importing Alembic and reading its migration
scripts to find that there is nothing to do took ~0.3 s of a start on a slow machine, while the
reconnecting clients of a restart waited: a process that restarts on an up-to-date database reads
the version table with one query and leaves Alembic unimported. ``HEAD_REVISION`` is the newest
migration's id; ``tests/test_migrations.py`` checks it against the scripts, so a new migration
cannot be added without it.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import create_async_engine

HEAD_REVISION = "0005_webhook_room_queues"

log = logging.getLogger(__name__)


def current_revision(url: str) -> str | None:
    """The revision recorded in the database at ``url``; None when there is none or it cannot be
    read (no version table yet, the database unreachable): the caller then runs Alembic, which
    creates the schema or reports the failure in its own words."""
    try:
        return asyncio.run(_read(url))
    except Exception as exc:  # any failure only means "let Alembic look"
        log.debug("schema revision not read: %s", type(exc).__name__)
        return None


async def _read(url: str) -> str | None:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = (await connection.exec_driver_sql("SELECT version_num FROM alembic_version")).all()
    finally:
        await engine.dispose()
    # One row on a linear history; anything else is for Alembic to sort out.
    return str(rows[0][0]) if len(rows) == 1 else None
