"""Sends with a ``clientMessageId`` in hub:send's group commit: the batch looks its ids up in one
read and inserts its new messages together, yet each send is answered as if it had been sent
alone (a retry gets the stored message, a reuse with other content is refused), and nothing is
stored, announced or counted twice when two sends of a batch name the same id."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import func, select

from tests.support.hub_rooms import create_room, message_count
from tests.support.statements import statements_sent
from tests.support.users import User
from tutorhub_messaging.db.models import ChatMessage, Conversation, OutboxEvent
from tutorhub_messaging.errors import ClientMessageIdReused, InvalidInput
from tutorhub_messaging.hub.batching import SendBatcher
from tutorhub_messaging.hub.sending import SendRequest
from tutorhub_messaging.messages.service import NewMessage, StoredMessage
from tutorhub_messaging.outbox import CHAT_MESSAGE_CREATED


def _text(body: str, client_message_id: str) -> NewMessage:
    return NewMessage("text", {"body": body}, client_message_id=client_message_id)


async def _principal(app: Any, user: User) -> Any:
    return await app.context.authenticator.authenticate(user.token)


async def _student_room(app: Any) -> tuple[Any, str]:
    """A new student's principal and a room of theirs."""
    student = User("student")
    room = await create_room(app, student, User("tutor"))
    return await _principal(app, student), room


def _texts(principal: Any, room: str, *sends: tuple[str, str]) -> list[SendRequest]:
    """One text send per (body, clientMessageId)."""
    return [SendRequest(principal, room, _text(body, client_id)) for body, client_id in sends]


async def _send_together(app: Any, requests: list[SendRequest]) -> list[StoredMessage | BaseException]:
    """The requests, queued in one turn of the event loop: one batch."""
    batcher = SendBatcher(app.context)
    return await asyncio.gather(*(batcher.send(request) for request in requests), return_exceptions=True)


def _touches_messages(statement: str) -> bool:
    return "chat_message" in statement and not statement.lstrip().upper().startswith("UPDATE")


async def _created_events(app: Any, room: str) -> int:
    async with app.context.db.unit_of_work() as uow:
        count = await uow.session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.aggregateid == room, OutboxEvent.type == CHAT_MESSAGE_CREATED)
        )
        return int(count or 0)


async def _version(app: Any, room: str) -> int:
    async with app.context.db.unit_of_work() as uow:
        conversation = await uow.session.get(Conversation, room)
        assert conversation is not None
        return conversation.record_version


async def test_a_batch_of_sends_with_client_ids_reads_them_once_and_inserts_its_messages_together(
    app: Any,
) -> None:
    users = [User("student") for _ in range(3)]
    rooms = [await create_room(app, user, User("tutor")) for user in users]
    requests = [
        SendRequest(await _principal(app, user), room, _text(f"{n} from {user.id[:6]}", f"c-{n}"))
        for user, room in zip(users, rooms, strict=True)
        for n in range(3)
    ]

    with statements_sent(app, _touches_messages) as sent:
        outcomes = await _send_together(app, requests)

    assert all(isinstance(o, StoredMessage) and o.created for o in outcomes), outcomes
    assert [o.record["clientMessageId"] for o in outcomes if isinstance(o, StoredMessage)] == [
        f"c-{n}" for _ in users for n in range(3)
    ]
    inserts = [s for s in sent if s.lstrip().upper().startswith("INSERT")]
    lookups = [s for s in sent if s.lstrip().upper().startswith("SELECT") and "client_message_id" in s]
    assert (len(inserts), len(lookups)) == (1, 1), sent
    for room in rooms:
        assert await message_count(app, room) == 3
        assert await _created_events(app, room) == 3
        assert await _version(app, room) == 3


async def test_retries_in_a_batch_get_the_stored_message_back_and_a_reuse_is_refused(app: Any) -> None:
    principal, room = await _student_room(app)
    [first, second] = await _send_together(
        app,
        _texts(principal, room, ("first", "a"), ("second", "b")),
    )
    assert isinstance(first, StoredMessage) and isinstance(second, StoredMessage)

    retry, reuse, new = await _send_together(
        app,
        _texts(principal, room, ("first", "a"), ("not the second", "b"), ("third", "c")),
    )

    assert isinstance(retry, StoredMessage) and not retry.created
    assert retry.record == first.record
    assert isinstance(reuse, ClientMessageIdReused)
    assert isinstance(new, StoredMessage) and new.created and new.record["content"] == {"body": "third"}
    assert await message_count(app, room) == 3
    # Only the new message moved the inbox and made an event.
    assert (await _created_events(app, room), await _version(app, room)) == (3, 3)


async def test_one_client_id_named_twice_in_a_batch_is_stored_announced_and_counted_once(app: Any) -> None:
    """The batch's INSERT fails on the second row; its savepoint is rolled back and each row is
    stored on its own: the second finds the first."""
    principal, room = await _student_room(app)

    before, twice, again = await _send_together(
        app,
        _texts(principal, room, ("before", "x"), ("twice", "dup"), ("twice", "dup")),
    )

    assert isinstance(before, StoredMessage) and before.created
    assert isinstance(twice, StoredMessage) and twice.created
    assert isinstance(again, StoredMessage) and not again.created
    assert again.record["id"] == twice.record["id"]
    async with app.context.db.unit_of_work() as uow:
        stored = list(
            await uow.session.scalars(
                select(ChatMessage.content).where(ChatMessage.room_id == room).order_by(ChatMessage.seq)
            )
        )
    assert stored == [{"body": "before"}, {"body": "twice"}]
    assert (await _created_events(app, room), await _version(app, room)) == (2, 2)


async def test_an_invalid_client_id_in_a_batch_is_refused_alone_and_never_looked_up(app: Any) -> None:
    """A NUL cannot be stored or even compared by PostgreSQL: the batch's read leaves it out."""
    principal, room = await _student_room(app)

    fine, bad, too_long = await _send_together(
        app,
        _texts(principal, room, ("fine", "ok"), ("bad", "a\x00"), ("long", "c" * 65)),
    )

    assert isinstance(fine, StoredMessage) and fine.created
    assert isinstance(bad, InvalidInput) and isinstance(too_long, InvalidInput)
    assert await message_count(app, room) == 1
