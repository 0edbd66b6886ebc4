"""Statements that write many rows at once, many times a second (a batch of hub sends), handed
to the driver's ``executemany`` ready-made.

``connection.execute(statement, rows)`` builds a parameter dictionary per row and then runs the
bind processors over it, one lookup and one call per value: profiled under inbox traffic, that
per-row work was the larger part of SQLAlchemy's share of storing a batch. Here the statement is
compiled once per dialect, the order of its parameters and their processors are read off the
compiled form, and each row becomes one tuple in one pass. The processors are SQLAlchemy's own
for each type, so what is stored is exactly what ``execute`` stores (``tests/test_prepared.py``
compares the two, row by row, on both databases).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True, slots=True)
class _Compiled:
    sql: str
    keys: tuple[str, ...]
    processors: tuple[tuple[int, Callable[[Any], Any]], ...]

    def encode(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = [row[key] for key in self.keys]
        for index, process in self.processors:
            values[index] = process(values[index])
        return tuple(values)


class ManyRowsStatement:
    """One statement run with many rows; every row gives a value for each of ``keys``."""

    def __init__(self, statement: ClauseElement, keys: Sequence[str]) -> None:
        self._statement = statement
        self._keys = tuple(keys)
        # Per dialect object: processors depend on the engine's settings (its JSON serializer).
        self._compiled: weakref.WeakKeyDictionary[Dialect, _Compiled] = weakref.WeakKeyDictionary()

    async def execute(self, connection: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        compiled = self._compiled.get(connection.dialect) or self._compile(connection.dialect)
        await connection.exec_driver_sql(compiled.sql, [compiled.encode(row) for row in rows])

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._statement.compile(dialect=dialect, column_keys=self._keys, for_executemany=True)
        order = compiled.positiontup  # type: ignore[attr-defined]
        if not dialect.positional or order is None:
            raise TypeError(f"{dialect.name}: a positional parameter style is needed")
        unknown = set(order) - set(self._keys)
        if unknown:  # a column default or a constant the rows do not carry
            raise ValueError(f"parameters the rows do not give: {sorted(unknown)}")
        binds = compiled.binds  # type: ignore[attr-defined]
        processors = []
        for index, name in enumerate(order):
            process = binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                processors.append((index, process))
        prepared = _Compiled(str(compiled), tuple(order), tuple(processors))
        self._compiled[dialect] = prepared
        return prepared
