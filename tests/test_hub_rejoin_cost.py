"""What a reconnect costs the database: after a restart every client connects and rejoins its
rooms with ``after`` at once, so a connect of a known user and a rejoin must not write, and a
rejoin reads only what authorizing it and its history page need.

The service is restarted for real: a second app on the same database, with nothing remembered in
memory, as after a deploy. Statements are counted on its engine.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from sqlalchemy import event

from tests.support.hub_rooms import create_room, store_texts
from tests.support.live import live_server
from tests.support.sockets import Sockets
from tests.support.users import User
from tutorhub_messaging.app import create_app
from tutorhub_messaging.settings import Settings

WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class Statements:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def of(self, *verbs: str) -> list[str]:
        return [s for s in self.seen if s.lstrip().upper().startswith(verbs)]

    @property
    def writes(self) -> list[str]:
        return self.of(*WRITES)

    @property
    def reads(self) -> list[str]:
        return self.of("SELECT", "WITH")

    def clear(self) -> None:
        self.seen.clear()


@contextmanager
def counting(app: Any) -> Iterator[Statements]:
    statements = Statements()
    engine = app.context.db.engine.sync_engine

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


@asynccontextmanager
async def restarted(settings: Settings) -> AsyncIterator[tuple[Any, Sockets]]:
    """A fresh process of the service on the same database: nothing cached in memory."""
    app = create_app(settings)
    try:
        async with live_server(app) as url, Sockets(url) as sockets:
            yield app, sockets
    finally:
        await app.context.db.dispose()


async def known_room(app: Any, hub: Sockets, student: User, tutor: User) -> tuple[str, str]:
    """A room both users have used before the restart, and the last message the tutor holds."""
    room = await create_room(app, student, tutor)
    stored = await store_texts(app, room, student, "one", "two")
    for user in (student, tutor):
        socket = await hub.connect(user)
        await socket.join(room)
        await socket.disconnect()
    return room, stored[-1]["id"]


async def test_a_connect_of_a_known_user_after_a_restart_writes_nothing(
    app: Any, hub: Sockets, settings: Settings, student: User, tutor: User
) -> None:
    await known_room(app, hub, student, tutor)

    async with restarted(settings) as (fresh, sockets):
        with counting(fresh) as statements:
            await sockets.connect(tutor)

    assert statements.writes == []
    assert len(statements.reads) == 1, statements.seen


async def test_a_connect_with_a_changed_name_still_writes_it(
    app: Any, hub: Sockets, settings: Settings, student: User, tutor: User
) -> None:
    room, _ = await known_room(app, hub, student, tutor)
    renamed = User("tutor", fullname="Renamed Tutor", id=tutor.id)

    async with restarted(settings) as (fresh, sockets):
        with counting(fresh) as statements:
            await sockets.connect(renamed)
        assert statements.writes != []
        response = await _conversation(fresh, student, room)

    assert response["participantBName"] == "Renamed Tutor"


async def test_a_rejoin_with_after_after_a_restart_writes_nothing_and_reads_once_per_check(
    app: Any, hub: Sockets, settings: Settings, student: User, tutor: User
) -> None:
    room, last = await known_room(app, hub, student, tutor)

    async with restarted(settings) as (fresh, sockets):
        socket = await sockets.connect(tutor)
        with counting(fresh) as statements:
            joined, history = await socket.join(room, after=last)
            await sockets.quiet()

    assert joined["roomId"] == room
    assert history["messages"] == []
    assert statements.writes == []
    # The room, what moderation is in force, and the page after ``last``: one unit of work.
    assert len(statements.reads) == 3, statements.seen


async def test_a_rejoin_with_after_gets_what_was_stored_while_it_was_away(
    app: Any, hub: Sockets, settings: Settings, student: User, tutor: User
) -> None:
    room, last = await known_room(app, hub, student, tutor)
    await store_texts(app, room, student, "three")

    async with restarted(settings) as (fresh, sockets):
        socket = await sockets.connect(tutor)
        with counting(fresh) as statements:
            _, history = await socket.join(room, after=last)
            await sockets.quiet()

    assert [m["content"]["body"] for m in history["messages"]] == ["three"]
    assert statements.writes == []


async def _conversation(app: Any, user: User, room: str) -> dict[str, Any]:
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get(f"/v1/conversations/{room}", headers=user.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    conversation: dict[str, Any] = body["conversation"]
    return conversation
