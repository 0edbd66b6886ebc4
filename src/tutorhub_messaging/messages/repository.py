"""All SQL about chat messages and read state."""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple
from typing import cast as typed

from sqlalchemy import (
    ColumnElement,
    Integer,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    false,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import (
    MESSAGE_STATUSES,
    ChatMessage,
    ChatModeration,
    Conversation,
    ReadState,
)
from tutorhub_messaging.db.prepared import ManyRowsStatement
from tutorhub_messaging.db.types import UtcDateTime, utcnow
from tutorhub_messaging.messages.filters import FieldFilter, Match, MessageQuery, TimeFilter

# Older than any message: the lower bound of a room nobody has read yet.
_NEVER_READ = literal(datetime(1970, 1, 1, tzinfo=UTC), UtcDateTime)
_MESSAGE_TABLE = typed(Table, ChatMessage.__table__)
# Every column but the generated ``seq``: the values ``message_row`` builds.
_INSERT_MESSAGES = ManyRowsStatement(
    insert(_MESSAGE_TABLE), [column.key for column in _MESSAGE_TABLE.columns if column.key != "seq"]
)
# Built once: every join reads a history page and then what arrived after it.
_IN_ROOM = (ChatMessage.room_id == bindparam("room"), ChatMessage.is_active.is_(True))
_LIMIT, _OFFSET = bindparam("limit", type_=Integer), bindparam("offset", type_=Integer)
_LATEST_FOR_ROOM = (
    select(ChatMessage).where(*_IN_ROOM).order_by(ChatMessage.seq.desc()).limit(_LIMIT).offset(_OFFSET)
)
_AFTER_IN_ROOM = (
    select(ChatMessage)
    .where(*_IN_ROOM, ChatMessage.seq > bindparam("after", type_=Integer))
    .order_by(ChatMessage.seq.asc())
    .limit(_LIMIT)
    .offset(_OFFSET)
)


class ClientKey(NamedTuple):
    """What names a message a client may send again: its room, its sender, its clientMessageId."""

    room_id: str
    sender_id: str
    client_message_id: str


class MessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, message: ChatMessage) -> ChatMessage:
        self.session.add(message)
        await self.session.flush()
        return message

    async def add_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert many messages in one statement (a batch of sends), in the given order, so their
        ``seq`` follows it. Column values as ``ChatMessage`` takes them."""
        # On the unit of work's connection, prepared once: no ORM bookkeeping for plain rows.
        await _INSERT_MESSAGES.execute(await self.session.connection(), rows)

    async def get_active(self, message_id: str) -> ChatMessage | None:
        return await self.session.scalar(
            select(ChatMessage).where(ChatMessage.id == message_id, ChatMessage.is_active.is_(True))
        )

    async def get_active_in_room(self, room_id: str, message_id: str) -> ChatMessage | None:
        return await self.session.scalar(
            select(ChatMessage).where(
                ChatMessage.id == message_id,
                ChatMessage.room_id == room_id,
                ChatMessage.is_active.is_(True),
            )
        )

    async def find_by_client_id(
        self, room_id: str, sender_id: str, client_message_id: str
    ) -> ChatMessage | None:
        return await self.session.scalar(
            select(ChatMessage).where(
                ChatMessage.room_id == room_id,
                ChatMessage.sender_id == sender_id,
                ChatMessage.client_message_id == client_message_id,
            )
        )

    async def find_by_client_ids(self, keys: Collection[ClientKey]) -> dict[ClientKey, ChatMessage]:
        """The stored messages that ``keys`` name (a batch of sends), in one read."""
        rows = await self.session.scalars(
            select(ChatMessage).where(
                ChatMessage.room_id.in_({key.room_id for key in keys}),
                ChatMessage.sender_id.in_({key.sender_id for key in keys}),
                ChatMessage.client_message_id.in_({key.client_message_id for key in keys}),
            )
        )
        found = {(row.room_id, row.sender_id, row.client_message_id): row for row in rows}
        return {key: found[key] for key in keys if key in found}

    async def latest_for_room(self, room_id: str, limit: int, offset: int = 0) -> list[ChatMessage]:
        """A room's active messages, newest first."""
        rows = await self.session.scalars(
            _LATEST_FOR_ROOM, {"room": room_id, "limit": limit, "offset": offset}
        )
        return list(rows)

    async def after_in_room(
        self, room_id: str, after_seq: int, limit: int, offset: int = 0
    ) -> list[ChatMessage]:
        """A room's active messages stored after ``after_seq``, oldest first (gap fill on reconnect)."""
        rows = await self.session.scalars(
            _AFTER_IN_ROOM, {"room": room_id, "after": after_seq, "limit": limit, "offset": offset}
        )
        return list(rows)

    async def count_for_room(self, room_id: str) -> int:
        total = await self.session.scalar(
            select(func.count())
            .select_from(ChatMessage)
            .where(ChatMessage.room_id == room_id, ChatMessage.is_active.is_(True))
        )
        return int(total or 0)

    async def latest_active_in_room(self, room_id: str) -> ChatMessage | None:
        rows = await self.latest_for_room(room_id, 1)
        return rows[0] if rows else None

    async def latest_active_until(self, room_id: str, until: datetime) -> ChatMessage | None:
        """The room's newest active message stored no later than ``until``."""
        return await self.session.scalar(
            select(ChatMessage)
            .where(
                ChatMessage.room_id == room_id,
                ChatMessage.is_active.is_(True),
                ChatMessage.timestamp <= until,
            )
            .order_by(ChatMessage.timestamp.desc(), ChatMessage.seq.desc())
            .limit(1)
        )

    async def unread_counts_for(
        self, user_id: str, room_ids: list[str], *, until: datetime | None = None
    ) -> dict[str, int]:
        """Per room: active messages from others that are newer than the user's read time (and,
        with ``until``, stored no later than that).

        One correlated count per room, bounded below by the read time, so each count walks only
        the room's unread messages on the (room, active, timestamp) index: the cost follows what
        is unread, not how much a room (or the table) holds.
        """
        if not room_ids:
            return {}
        rooms = typed(Table, Conversation.__table__)
        read_at = (
            select(ReadState.last_read_at)
            .where(ReadState.room_id == rooms.c.id, ReadState.user_id == user_id)
            .correlate(rooms)
            .scalar_subquery()
        )
        unread = (
            select(func.count())
            .select_from(ChatMessage)
            .where(
                ChatMessage.room_id == rooms.c.id,
                ChatMessage.is_active.is_(True),
                ChatMessage.timestamp > func.coalesce(read_at, _NEVER_READ),
                or_(ChatMessage.sender_id.is_(None), ChatMessage.sender_id != user_id),
                *(() if until is None else (ChatMessage.timestamp <= until,)),
            )
            .correlate(rooms)
            .scalar_subquery()
        )
        stmt = select(rooms.c.id, unread).where(rooms.c.id.in_(room_ids))
        return {room_id: int(count) for room_id, count in (await self.session.execute(stmt)).all() if count}


# --- Searching (listChatMessages), room history paging, edits and soft deletes ---------------


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def _iso_text(session: AsyncSession, column: Any) -> ColumnElement[str]:
    """A timestamp as the guides render it (``2026-11-22T10:30:00.123Z``), in SQL."""
    if _dialect(session) == "postgresql":
        return func.to_char(func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    return func.strftime("%Y-%m-%dT%H:%M:%fZ", column)


def _json_text_pattern(session: AsyncSession, value: str) -> str:
    """The value as it appears inside stored JSON text: quotes and backslashes escaped, and on
    SQLite (whose JSON is Python's ``json.dumps`` output) non-ASCII as ``\\uXXXX``."""
    return json.dumps(value, ensure_ascii=_dialect(session) != "postgresql")[1:-1].lower()


def _json_text_matches(session: AsyncSession, column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    """Any of the values inside an object's JSON text, ignoring case, with the row's text made once
    for all the values (not once per value: for a search of many values that was most of its
    cost)."""
    patterns = [_json_text_pattern(session, value) for value in values]
    if _dialect(session) == "postgresql":
        # ``LIKE ANY`` takes no ESCAPE clause: PostgreSQL's default escape is the backslash.
        escaped = ["%" + re.sub(r"([\\%_])", r"\\\1", pattern) + "%" for pattern in patterns]
        return func.lower(cast(column, Text)).like(any_(array(escaped, type_=Text)))
    # SQLite's LIKE ignores the case of ASCII letters, and its JSON text is ASCII (``\uXXXX`` for
    # anything else, as the patterns are): lowering the text first would change nothing.
    text_of = cast(column, Text)
    return or_(*(text_of.contains(pattern, autoescape=True) for pattern in patterns))


def _is_null_json(column: Any) -> ColumnElement[bool]:
    # A missing object is stored either as SQL NULL or as JSON null, depending on the writer.
    return or_(column.is_(None), cast(column, Text) == "null")


_FILTER_COLUMNS: dict[str, Any] = {
    "roomId": ChatMessage.room_id,
    "senderId": ChatMessage.sender_id,
    "senderName": ChatMessage.sender_name,
    "senderAvatar": ChatMessage.sender_avatar,
    "messageType": ChatMessage.message_type,
    "status": ChatMessage.status,
    "content": ChatMessage.content,
    "replyTo": ChatMessage.reply_to,
}


def _field_condition(session: AsyncSession, spec: FieldFilter) -> ColumnElement[bool]:
    column = _FILTER_COLUMNS[spec.field]
    options: list[ColumnElement[bool]] = []
    if spec.match is Match.EXACT:
        if spec.values:
            options.append(column.in_(spec.values))
    elif spec.match is Match.PARTIAL:
        options.extend(column.icontains(value, autoescape=True) for value in spec.values)
    elif spec.values:
        options.append(_json_text_matches(session, column, spec.values))
    if spec.include_null:
        options.append(_is_null_json(column) if spec.match is Match.JSON_TEXT else column.is_(None))
    return or_(*options) if options else false()


def _time_condition(session: AsyncSession, spec: TimeFilter) -> ColumnElement[bool]:
    column = ChatMessage.timestamp
    options: list[ColumnElement[bool]] = []
    for span in spec.ranges:
        start = column >= span.start
        options.append(start if span.end is None else and_(start, column < span.end))
    if spec.substrings:
        iso_text = _iso_text(session, column)
        options.extend(iso_text.contains(value, autoescape=True) for value in spec.substrings)
    if spec.include_null:
        options.append(column.is_(None))
    return or_(*options) if options else false()


def _readable_rooms(reader_id: str) -> Any:
    """Rooms a user takes part in and is not blocked from (soft-deleted rooms excluded)."""
    now = utcnow()
    blocked = select(ChatModeration.room_id).where(
        ChatModeration.user_id == reader_id,
        ChatModeration.action == "blocked",
        ChatModeration.is_active.is_(True),
        or_(ChatModeration.expires_at.is_(None), ChatModeration.expires_at > now),
    )
    return select(Conversation.id).where(
        Conversation.is_active.is_(True),
        or_(Conversation.participant_a == reader_id, Conversation.participant_b == reader_id),
        Conversation.id.not_in(blocked),
    )


class MessageSearch:
    """Active messages matching a ``MessageQuery``, optionally only those a user may read."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _where(self, query: MessageQuery, reader_id: str | None) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = [ChatMessage.is_active.is_(True)]
        if reader_id is not None:
            conditions.append(ChatMessage.room_id.in_(_readable_rooms(reader_id)))
        conditions.extend(_field_condition(self.session, spec) for spec in query.fields)
        if query.timestamp is not None:
            conditions.append(_time_condition(self.session, query.timestamp))
        return conditions

    async def page(
        self, query: MessageQuery, *, reader_id: str | None, limit: int, offset: int
    ) -> list[ChatMessage]:
        """Newest first."""
        rows = await self.session.scalars(
            select(ChatMessage)
            .where(*self._where(query, reader_id))
            .order_by(ChatMessage.seq.desc())
            .limit(limit)
            .offset(offset)
        )
        return list(rows)

    async def count(self, query: MessageQuery, *, reader_id: str | None) -> int:
        total = await self.session.scalar(
            select(func.count()).select_from(ChatMessage).where(*self._where(query, reader_id))
        )
        return int(total or 0)


class MessageEditing:
    """Reads and writes of single messages for the edit and delete routes, and room paging."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_active_for_update(self, message_id: str) -> ChatMessage | None:
        """The active message, locked until the unit of work ends (PostgreSQL; SQLite serialises
        units of work), so two concurrent edits cannot both start from the same recordVersion."""
        return await self.session.scalar(
            select(ChatMessage)
            .where(ChatMessage.id == message_id, ChatMessage.is_active.is_(True))
            .with_for_update()
            .execution_options(populate_existing=True)
        )

    async def record_edit(
        self, message: ChatMessage, *, content: dict[str, Any] | None, status: str | None
    ) -> None:
        if content is not None:
            message.content = content
        if status is not None:
            message.status = status
            message.status_idx = MESSAGE_STATUSES.index(status)
        message.record_version += 1
        message.updated_at = utcnow()
        await self.session.flush()

    async def mark_deleted(self, message: ChatMessage) -> None:
        message.is_active = False
        message.record_version += 1
        message.updated_at = utcnow()
        await self.session.flush()

    async def seq_in_room(self, room_id: str, message_id: str) -> int | None:
        """Where a message of the room sits in its order, deleted or not (a client may resume
        after a message that was deleted since it received it)."""
        seq = await self.session.scalar(
            select(ChatMessage.seq).where(ChatMessage.id == message_id, ChatMessage.room_id == room_id)
        )
        return int(seq) if seq is not None else None

    async def count_after_in_room(self, room_id: str, after_seq: int) -> int:
        total = await self.session.scalar(
            select(func.count())
            .select_from(ChatMessage)
            .where(
                ChatMessage.room_id == room_id,
                ChatMessage.is_active.is_(True),
                ChatMessage.seq > after_seq,
            )
        )
        return int(total or 0)
