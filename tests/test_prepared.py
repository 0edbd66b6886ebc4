"""Statements prepared for many rows (the batch of hub sends) store exactly what SQLAlchemy's own
execution stores, on the suite's database; and SQLite's timestamp text is SQLAlchemy's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Table, insert, text
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect

from tests.support.hub_rooms import create_room
from tests.support.users import User
from tutorhub_messaging.db.models import ChatMessage
from tutorhub_messaging.db.prepared import ManyRowsStatement
from tutorhub_messaging.db.types import UtcDateTime
from tutorhub_messaging.messages.repository import MessageRepository
from tutorhub_messaging.messages.service import Sender, message_row

TABLE = cast(Table, ChatMessage.__table__)


def _rows(room: str, sender: User) -> list[dict[str, Any]]:
    who = Sender(id=sender.id, fullname="Ünïcode “name”", avatar=None)
    at = datetime(2026, 11, 22, 10, 30, 0, 123000, tzinfo=UTC)
    return [
        message_row(
            room, who, "text", {"body": 'héllo \\ "quoted" ✓'}, status="approved", at=at, forwarded=False
        ),
        message_row(
            room,
            replace(who, avatar="https://example.test/a.png"),
            "document",
            {"url": "https://example.test/f.pdf", "name": "f.pdf", "nested": {"n": [1, 2.5, None, True]}},
            status="pending",
            at=at + timedelta(microseconds=999),
            forwarded=True,
            reply_to={"id": "x", "body": None},
            client_message_id="client-1",
        ),
    ]


async def _stored(app: Any, room: str) -> list[dict[str, Any]]:
    """Each row as the database holds it (raw column values, not through the ORM's types)."""
    async with app.context.db.unit_of_work() as uow:
        result = await uow.session.execute(
            text("SELECT * FROM chat_message WHERE room_id = :room ORDER BY seq"), {"room": room}
        )
        skip = ("seq", "id", "room_id")
        return [{k: v for k, v in row._mapping.items() if k not in skip} for row in result]


async def test_prepared_rows_are_stored_exactly_as_sqlalchemy_stores_them(app: Any) -> None:
    student = User("student")
    prepared_room = await create_room(app, student, User("tutor"))
    reference_room = await create_room(app, student, User("tutor"))

    async with app.context.db.unit_of_work() as uow:
        await MessageRepository(uow.session).add_rows(_rows(prepared_room, student))
        await (await uow.session.connection()).execute(insert(TABLE), _rows(reference_room, student))

    prepared, reference = await _stored(app, prepared_room), await _stored(app, reference_room)
    assert len(prepared) == 2
    assert prepared == reference
    async with app.context.db.unit_of_work() as uow:
        stored = await MessageRepository(uow.session).latest_for_room(prepared_room, 10)
    assert [m.content for m in reversed(stored)] == [r["content"] for r in _rows(prepared_room, student)]
    assert stored[0].timestamp == datetime(2026, 11, 22, 10, 30, 0, 123999, tzinfo=UTC)


async def test_a_statement_whose_rows_miss_a_parameter_is_refused(app: Any) -> None:
    statement = ManyRowsStatement(insert(TABLE), ["id", "room_id"])  # the other columns have no default
    async with app.context.db.unit_of_work() as uow:
        with pytest.raises(ValueError, match="parameters the rows do not give"):
            await statement.execute(await uow.session.connection(), [{"id": "a", "room_id": "b"}])


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 11, 22, 10, 30, 0, 123000, tzinfo=UTC),
        datetime(2026, 11, 22, 10, 30, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 1, 1, 5, tzinfo=timezone(timedelta(hours=3))),
        datetime(2026, 1, 1),  # naive: taken as UTC
    ],
)
def test_sqlite_timestamps_are_written_as_sqlalchemys_datetime_text(moment: datetime) -> None:
    dialect = aiosqlite_dialect()
    ours = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    stock = DATETIME().bind_processor(dialect)
    assert ours is not None and stock is not None
    as_utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    assert ours(moment) == stock(as_utc.replace(tzinfo=None))
    assert ours(None) is None
