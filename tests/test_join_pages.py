"""The history pages of a batch of joins, read in one statement (``messages.pages``): each join
gets the page it would get alone, whatever else the batch holds and however large it is."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.hub_rooms import create_room, delete_message, store_texts
from tests.support.users import User
from tutorhub_messaging.errors import InvalidInput
from tutorhub_messaging.hub.history import History, read_histories
from tutorhub_messaging.hub.joining import MAX_BATCH
from tutorhub_messaging.messages.pages import PageWanted


async def _histories(app: Any, wanted: list[PageWanted], limit: int) -> list[History | InvalidInput]:
    async with app.context.db.unit_of_work() as uow:
        return await read_histories(uow.session, wanted, limit)


def _bodies(history: History | InvalidInput) -> list[str]:
    assert isinstance(history, History), history
    return [record["content"]["body"] for record in history.records]


async def test_each_join_of_a_batch_gets_its_own_page(app: Any, student: User, tutor: User) -> None:
    # One room per pair of participants.
    busy = await create_room(app, student, tutor)
    quiet = await create_room(app, student, User("tutor"))
    empty = await create_room(app, User("student"), tutor)
    stored = await store_texts(app, busy, student, "one", "two", "three", "four")
    [only] = await store_texts(app, quiet, tutor, "only")
    await delete_message(app, stored[1]["id"])  # "two": still a place to resume after
    wanted = [
        PageWanted(busy, None),  # latest, newest first, without the deleted one
        PageWanted(busy, stored[0]["id"]),
        PageWanted(quiet, None),
        PageWanted(busy, stored[1]["id"]),  # after a deleted message
        PageWanted(empty, None),
        PageWanted(quiet, only["id"]),  # nothing after it
        PageWanted(quiet, stored[0]["id"]),  # a message of another room
        PageWanted(busy, str(uuid.uuid4())),  # no message at all
        PageWanted(busy, stored[0]["id"]),  # the same page twice in one batch
    ]

    histories = await _histories(app, wanted, limit=2)

    assert _bodies(histories[0]) == ["four", "three"]
    assert _bodies(histories[1]) == ["three", "four"]  # a full page: the client pages on over REST
    assert isinstance(histories[1], History) and histories[1].catch_up is False
    assert _bodies(histories[2]) == ["only"]
    assert _bodies(histories[3]) == ["three", "four"]
    assert _bodies(histories[4]) == []
    assert _bodies(histories[5]) == []
    assert isinstance(histories[5], History) and histories[5].catch_up is True
    for refused in histories[6:8]:
        assert isinstance(refused, InvalidInput)
        assert str(refused) == "after must name a message of this room"
    assert _bodies(histories[8]) == ["three", "four"]


async def test_the_largest_batch_is_one_statement_sqlite_takes(app: Any, student: User, tutor: User) -> None:
    room = await create_room(app, student, tutor)
    stored = await store_texts(app, room, student, "one", "two")
    # Every join with ``after``: two arms each, the most a batch can hold.
    wanted = [PageWanted(room, stored[0]["id"]) for _ in range(MAX_BATCH)]

    histories = await _histories(app, wanted, limit=50)

    assert [_bodies(h) for h in histories] == [["two"]] * MAX_BATCH
