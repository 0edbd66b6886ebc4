"""All SQL reading the history pages of many joins at once (a batch of ``hub:join``s).

One statement for the whole batch: a ``UNION ALL`` with one arm per join, each on the
``(room_id, is_active, seq)`` index with its own ``LIMIT``, so a client far behind still reads only
its page. A join with ``after`` has two arms, the message it resumes after (deleted or not) and the
active ones stored after it; no resumed message means ``after`` names no message of the room.
Rows come back as plain rows (no ORM objects) tagged with the join they belong to.

The statement is plain SQL text built once per shape (how many joins with and without ``after``)
and kept: built and compiled as SQLAlchemy constructs, a batch's union cost more CPU than the
reads it saved (profiled in a reconnect storm: a quarter of the process's time). Only the model's
table and column names and integers are written into the text; every value is a bind parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from typing import cast as typed

from sqlalchemy import Integer, Row, Table, TextualSelect, column, text
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import ChatMessage

_TABLE = typed(Table, ChatMessage.__table__)
_COLUMNS = ", ".join(c.name for c in _TABLE.columns)
# Typed result columns, so values come back as the ORM would give them (times, JSON).
_RESULT = [column(c.name, c.type) for c in _TABLE.columns] + [
    column("page_no", Integer),
    column("page_order", Integer),
]
_TRUE = {"sqlite": "1"}  # a boolean literal; ``true`` elsewhere


@dataclass(frozen=True, slots=True)
class PageWanted:
    room_id: str
    after: str | None  # None: the latest page, newest first


def _after_arms(k: int, true: str) -> str:
    """The resumed message, then the active ones after it, oldest first."""
    anchor = f"id = :after_{k} AND room_id = :room_{k}"
    return (
        f"SELECT {_COLUMNS}, {k} AS page_no, seq AS page_order FROM {_TABLE.name} WHERE {anchor} "  # noqa: S608
        f"UNION ALL SELECT * FROM (SELECT {_COLUMNS}, {k} AS page_no, seq AS page_order "
        f"FROM {_TABLE.name} WHERE room_id = :room_{k} AND is_active = {true} "
        f"AND seq > (SELECT seq FROM {_TABLE.name} WHERE {anchor}) "
        f"ORDER BY seq ASC LIMIT :limit) AS page_{k}"
    )


def _latest_arm(k: int, true: str) -> str:
    """The latest active ones, newest first."""
    return (
        f"SELECT * FROM (SELECT {_COLUMNS}, {k} AS page_no, -seq AS page_order "  # noqa: S608
        f"FROM {_TABLE.name} WHERE room_id = :room_{k} AND is_active = {true} "
        f"ORDER BY seq DESC LIMIT :limit) AS page_{k}"
    )


@lru_cache(maxsize=256)
def _statement(dialect: str, resumed: int, latest: int) -> TextualSelect:
    """Joins ``0 .. resumed-1`` with ``after``, then ``latest`` joins without."""
    true = _TRUE.get(dialect, "true")
    arms = [_after_arms(k, true) for k in range(resumed)]
    arms += [_latest_arm(k, true) for k in range(resumed, resumed + latest)]
    union = " UNION ALL ".join(arms)
    sql = f"SELECT * FROM ({union}) AS pages ORDER BY page_no, page_order"  # noqa: S608
    return text(sql).columns(*_RESULT)


class PageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def pages(self, wanted: Sequence[PageWanted], limit: int) -> list[list[Row[Any]]]:
        """Each join's rows, in the order of ``wanted``: with ``after``, the resumed message first
        when it is a message of that room, then up to ``limit`` active ones after it oldest
        first; without, up to ``limit`` active ones newest first."""
        if not wanted:
            return []
        # Joins with ``after`` first: the statement's shape then depends only on how many of each
        # kind the batch holds.
        order = sorted(range(len(wanted)), key=lambda i: wanted[i].after is None)
        params: dict[str, Any] = {"limit": limit}
        resumed = 0
        for k, i in enumerate(order):
            params[f"room_{k}"] = wanted[i].room_id
            if wanted[i].after is not None:
                params[f"after_{k}"] = wanted[i].after
                resumed += 1
        connection = await self.session.connection()
        statement = _statement(connection.dialect.name, resumed, len(wanted) - resumed)
        found: list[list[Row[Any]]] = [[] for _ in wanted]
        for row in await connection.execute(statement, params):
            found[order[row.page_no]].append(row)
        return found
