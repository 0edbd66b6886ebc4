"""Dialect-aware INSERT ... ON CONFLICT, the one statement SQLite and PostgreSQL spell differently."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports ``on_conflict_do_update`` on the session's dialect."""
    return insert_on(session.get_bind().dialect.name, table)


def insert_on(dialect: str, table: Any) -> Any:
    """``insert_for`` by dialect name (for statements built once per dialect)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def excluded(statement: Any, column: str) -> ColumnElement[Any]:
    return statement.excluded[column]  # type: ignore[no-any-return]
