"""A column matching any value of a list, in one statement shape whatever the list's length."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, any_, bindparam
from sqlalchemy.dialects import postgresql


def one_of(column: Any, name: str, dialect: str) -> ColumnElement[bool]:
    """``column IN (:name...)``. On PostgreSQL ``column = ANY(:name)`` with one array parameter:
    an IN list of n values is a different statement for every n, which the driver prepares anew
    (and evicts from its cache) as batch sizes vary."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=postgresql.ARRAY(String)))  # type: ignore[no-any-return]
    return column.in_(bindparam(name, expanding=True))  # type: ignore[no-any-return]
