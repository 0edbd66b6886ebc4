"""Throwaway databases of the suite's kind: a SQLite file in a temp folder, or (with
``MESSAGING_TEST_POSTGRES_URL`` set) a PostgreSQL database dropped when the test is done."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

POSTGRES_URL = os.environ.get("MESSAGING_TEST_POSTGRES_URL")


async def _admin_execute(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@contextmanager
def throwaway_database(folder: Path, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database; a PostgreSQL one is dropped on exit."""
    if POSTGRES_URL:
        name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        asyncio.run(_admin_execute(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
        try:
            yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        finally:
            asyncio.run(_admin_execute(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        yield f"sqlite+aiosqlite:///{folder / f'{prefix}.db'}"
