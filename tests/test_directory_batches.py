"""Directory rows of callers arriving together are looked at in one batch: after a restart, the
connects of users the directory already knows share their reads and write nothing, and what
changed is still written, conversations' cached names included."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import update

from tests.support.batches import cancel_drainer
from tests.support.conversations import EnrollmentSpec, open_student_tutor
from tests.support.statements import statements_sent
from tests.support.users import User
from tutorhub_messaging.db.models import Conversation, DirectoryUser
from tutorhub_messaging.errors import Unavailable
from tutorhub_messaging.identity.directory import DirectoryRefresher
from tutorhub_messaging.identity.principal import Principal


def principal_of(user: User) -> Principal:
    return Principal(user.id, frozenset({user.role}), fullname=user.fullname, avatar=user.avatar)


@contextmanager
def directory_statements(app: Any) -> Iterator[list[str]]:
    """The verbs of the SQL statements that touch the directory table, as they are sent."""
    with statements_sent(app, lambda statement: "directory_user" in statement) as sent:
        verbs: list[str] = []
        yield verbs
    verbs.extend(statement.lstrip().split(None, 1)[0].upper() for statement in sent)


async def refresh_together(app: Any, refresher: DirectoryRefresher, users: list[User]) -> None:
    unit_of_work = app.context.db.unit_of_work
    await asyncio.gather(*(refresher.refresh_once(unit_of_work, principal_of(user)) for user in users))


async def conversation_names(client: httpx.AsyncClient, admin: User, conversation_id: str) -> tuple[Any, Any]:
    response = await client.get(f"/v1/conversations/{conversation_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    record = response.json()["conversation"]
    return record["participantAName"], record["participantBName"]


async def test_known_users_arriving_together_share_one_read_and_write_nothing(app: Any) -> None:
    users = [User("student") for _ in range(20)] + [User("tutor") for _ in range(5)]
    await refresh_together(app, DirectoryRefresher(), users)  # their rows are stored

    restarted = DirectoryRefresher()  # a new process has seen nobody
    with directory_statements(app) as sent:
        await refresh_together(app, restarted, users)

    assert sent == ["SELECT"]
    assert not [user for user in users if restarted.needs_refresh(principal_of(user))]


async def test_a_batch_writes_exactly_the_users_whose_token_says_something_new(
    app: Any, client: httpx.AsyncClient, admin: User
) -> None:
    unchanged, renamed, tutor = User("student"), User("student"), User("tutor")
    conversation = await open_student_tutor(client, EnrollmentSpec(renamed, tutor))
    await refresh_together(app, DirectoryRefresher(), [unchanged, renamed, tutor])
    assert await conversation_names(client, admin, conversation["id"]) == (renamed.fullname, tutor.fullname)

    renamed.fullname = "Renée Renamed"
    newcomer = User("student")
    with directory_statements(app) as sent:
        await refresh_together(app, DirectoryRefresher(), [unchanged, renamed, tutor, newcomer])

    assert sent.count("INSERT") == 2  # the renamed user and the newcomer, nobody else
    assert await conversation_names(client, admin, conversation["id"]) == ("Renée Renamed", tutor.fullname)
    async with app.context.db.unit_of_work() as uow:
        stored = await uow.session.get(DirectoryUser, newcomer.id)
        assert stored is not None and (stored.fullname, stored.avatar) == (newcomer.fullname, newcomer.avatar)


async def test_a_conversation_caching_another_name_or_none_is_brought_up_to_date(
    app: Any, client: httpx.AsyncClient, admin: User
) -> None:
    """The directory row already says what the token says, but a conversation of the user caches
    an older name (or none): the batch sees it and writes the name there."""
    student, tutor = User("student"), User("tutor")
    conversation = await open_student_tutor(client, EnrollmentSpec(student, tutor))
    await refresh_together(app, DirectoryRefresher(), [student, tutor])
    async with app.context.db.unit_of_work() as uow:
        await uow.session.execute(
            update(Conversation)
            .where(Conversation.id == conversation["id"])
            .values(participant_a_name="An Old Name", participant_b_name=None)
        )
    assert await conversation_names(client, admin, conversation["id"]) == ("An Old Name", None)

    await refresh_together(app, DirectoryRefresher(), [student, tutor])

    assert await conversation_names(client, admin, conversation["id"]) == (student.fullname, tutor.fullname)


async def test_callers_are_not_left_waiting_when_a_batch_is_cancelled(app: Any) -> None:
    """The process stopping cancels the batch on its way: its callers get an error (a request
    answers 503) instead of waiting forever, and a later call of the same users is looked at."""
    refresher = DirectoryRefresher()
    users = [User("student") for _ in range(3)]
    unit_of_work = app.context.db.unit_of_work
    calls = [asyncio.create_task(refresher.refresh_once(unit_of_work, principal_of(user))) for user in users]
    await asyncio.sleep(0)  # every call is queued and the batch's task has started
    cancel_drainer("directory")

    ended = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), timeout=10)

    assert [type(outcome) for outcome in ended] == [Unavailable] * 3
    await refresh_together(app, refresher, users)
    assert not [user for user in users if refresher.needs_refresh(principal_of(user))]
