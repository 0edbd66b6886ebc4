"""All SQL reading the history pages of many joins at once (a batch of ``hub:join``s).

One statement for the whole batch: a ``UNION ALL`` with one arm per join, each on the
``(room_id, is_active, seq)`` index with its own ``LIMIT``, so a client far behind still reads only
its page. A join with ``after`` has two arms, the message it resumes after (deleted or not) and the
active ones stored after it; no resumed message means ``after`` names no message of the room.
Rows come back as plain rows (no ORM objects) with the index of the join they belong to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Integer, Row, Select, bindparam, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import ChatMessage

# Every column of a message under its attribute name (what ``message_record`` reads).
_COLUMNS = [getattr(ChatMessage, column.key) for column in ChatMessage.__table__.columns]
_LIMIT = bindparam("limit", type_=Integer)


@dataclass(frozen=True, slots=True)
class PageWanted:
    room_id: str
    after: str | None  # None: the latest page, newest first


def _arms(index: int, wanted: PageWanted) -> list[Select[Any]]:
    """The arms of one join: rows tagged with its index and an order within it."""
    room: BindParameter[str] = bindparam(f"room_{index}")
    tag = literal(index, Integer).label("page_no")
    active = (ChatMessage.room_id == room, ChatMessage.is_active.is_(True))
    if wanted.after is None:
        latest = select(*_COLUMNS, tag, (-ChatMessage.seq).label("page_order"))
        return [latest.where(*active).order_by(ChatMessage.seq.desc()).limit(_LIMIT).subquery().select()]
    anchor = (ChatMessage.id == bindparam(f"after_{index}"), ChatMessage.room_id == room)
    resumed = select(*_COLUMNS, tag, ChatMessage.seq.label("page_order")).where(*anchor)
    after_seq = select(ChatMessage.seq).where(*anchor).scalar_subquery()
    page = (
        select(*_COLUMNS, tag, ChatMessage.seq.label("page_order"))
        .where(*active, ChatMessage.seq > after_seq)
        .order_by(ChatMessage.seq.asc())
        .limit(_LIMIT)
    )
    return [resumed, page.subquery().select()]


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
        # kind the batch holds, so few shapes are compiled and cached.
        order = sorted(range(len(wanted)), key=lambda i: wanted[i].after is None)
        wanted = [wanted[i] for i in order]
        arms = [arm for index, one in enumerate(wanted) for arm in _arms(index, one)]
        statement = union_all(*arms) if len(arms) > 1 else arms[0]
        ordered = statement.subquery()
        params: dict[str, Any] = {"limit": limit}
        for index, one in enumerate(wanted):
            params[f"room_{index}"] = one.room_id
            if one.after is not None:
                params[f"after_{index}"] = one.after
        rows = await self.session.execute(
            select(ordered).order_by(ordered.c.page_no, ordered.c.page_order), params
        )
        found: list[list[Row[Any]]] = [[] for _ in wanted]
        for row in rows:
            found[order[row.page_no]].append(row)
        return found
