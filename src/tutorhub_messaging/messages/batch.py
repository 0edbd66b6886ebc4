"""Storing many messages in one unit of work (group commit of ``hub:send``).

Each message is stored exactly as ``store_message`` stores it (same row, same inbox preview, same
sender read state, same ``chatMessage.created`` event, same ``hub:messageArrived`` after the
commit); only the statements are shared: one multi-row INSERT for the messages, one UPDATE per
conversation and one read-state upsert per (room, sender), instead of three statements per
message.

A ``clientMessageId`` is looked up for the whole batch in one read before anything is written: a
retry of a message already stored gets that message back (or is refused as a reuse) without a
write, and the others are inserted with the rest of the batch. The INSERT of a batch holding
clientMessageIds runs in a savepoint: if another transaction stored one of them since the read (two
retries racing on two connections), or the batch names one twice, the savepoint is rolled back
and those rows are stored one by one through ``store_message``, which settles such a race.

A message with a ``replyTo`` takes ``store_message`` itself (its target is read alone), after the
rows before it are written, so storage order is always arrival order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy.exc import IntegrityError

from tutorhub_messaging.conversations.repository import ConversationRepository, LastMessage
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.models import ChatMessage
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.errors import AppError, InvalidInput
from tutorhub_messaging.hub.definition import MessageType
from tutorhub_messaging.messages.content import preview_of, validate_content
from tutorhub_messaging.messages.read_state_repository import ReadStateRepository
from tutorhub_messaging.messages.repository import ClientKey, MessageRepository
from tutorhub_messaging.messages.serializers import message_record
from tutorhub_messaging.messages.service import (
    MESSAGE_ARRIVED,
    MessageRules,
    NewMessage,
    Sender,
    StoredMessage,
    check_client_message_id,
    message_row,
    record_message_created,
    same_send,
    store_message,
)
from tutorhub_messaging.realtime import RoomNotifier

Outcome = StoredMessage | AppError


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message whose sender passed every check: what ``store_message`` takes."""

    room_id: str
    sender: Sender
    new: NewMessage
    status: str = "approved"
    # The content as the caller already validated it against the same rules, if it did.
    checked: tuple[MessageType, dict[str, Any]] | None = None
    # The room's participants (the event's recipients), when the caller has them.
    participants: Sequence[str] | None = None


@dataclass(frozen=True, slots=True)
class _Unwritten:
    slot: int  # its place among the outcomes
    item: Outgoing
    values: dict[str, Any]
    record: dict[str, Any]
    preview: str


@dataclass
class _LastInRoom:
    at: datetime
    preview: str
    count: int


class _Rows:
    """Messages accepted but not yet written. What a message changes beyond its row (inbox
    preview, read state, event, broadcast) is recorded only once the row is written."""

    def __init__(
        self, uow: UnitOfWork, notifier: RoomNotifier, rules: MessageRules, outcomes: list[Any]
    ) -> None:
        self.uow = uow
        self.notifier = notifier
        self.rules = rules
        self.outcomes = outcomes
        self.unwritten: list[_Unwritten] = []

    def add(
        self,
        slot: int,
        item: Outgoing,
        message_type: MessageType,
        content: dict[str, Any],
        client_message_id: str | None,
    ) -> None:
        values = message_row(
            item.room_id,
            item.sender,
            message_type.name,
            content,
            status=item.status,
            at=utcnow(),
            forwarded=bool(item.new.forwarded),
            client_message_id=client_message_id,
        )
        # message_record only reads attributes: a plain namespace spares building an ORM object
        # (half the cost of accepting a message) for a row that is inserted with core SQL.
        record = message_record(cast(ChatMessage, SimpleNamespace(**values)))
        self.unwritten.append(_Unwritten(slot, item, values, record, preview_of(message_type, content)))
        self.outcomes[slot] = StoredMessage(record, created=True)

    async def write(self) -> None:
        rows, self.unwritten = self.unwritten, []
        if not rows:
            return
        messages = MessageRepository(self.uow.session)
        if any(row.values["client_message_id"] is not None for row in rows):
            try:
                async with self.uow.session.begin_nested():
                    await messages.add_rows([row.values for row in rows])
            except IntegrityError:
                await self._store_one_by_one(rows)
                return
        else:
            await messages.add_rows([row.values for row in rows])
        await self._record_written(rows)

    async def _store_one_by_one(self, rows: list[_Unwritten]) -> None:
        for row in rows:
            try:
                self.outcomes[row.slot] = await _store_alone(self.uow, self.notifier, self.rules, row.item)
            except AppError as exc:
                self.outcomes[row.slot] = exc

    async def _record_written(self, rows: list[_Unwritten]) -> None:
        session = self.uow.session
        unknown = {row.item.room_id for row in rows if row.item.participants is None}
        participants: dict[str, Sequence[str]] = {}
        if unknown:
            keys = await ConversationRepository(session).get_active_many(unknown)
            participants = {key.id: (key.participant_a, key.participant_b) for key in keys}
        last: dict[str, _LastInRoom] = {}
        reads: dict[tuple[str, str], datetime] = {}
        for row in rows:
            item, room_id, sender = row.item, row.item.room_id, row.item.sender
            at = row.values["timestamp"]
            previous = last.get(room_id)
            last[room_id] = _LastInRoom(at, row.preview, (previous.count if previous else 0) + 1)
            if sender.id is not None:
                reads[(room_id, sender.id)] = at
            recipients = item.participants if item.participants is not None else participants.get(room_id, ())
            record_message_created(self.uow, room_id, sender.id, recipients, row.record)
            self._announce_after_commit(
                room_id, {"roomId": room_id, "sender": sender.as_payload(), "message": row.record}
            )
        updated_at = utcnow()
        await ConversationRepository(session).record_last_messages(
            [
                LastMessage(room_id, entry.at, entry.preview, updated_at, entry.count)
                for room_id, entry in last.items()
            ]
        )
        if reads:
            await ReadStateRepository(session).mark_read_many(
                [(room_id, user_id, at) for (room_id, user_id), at in reads.items()]
            )

    def _announce_after_commit(self, room_id: str, payload: dict[str, Any]) -> None:
        async def announce() -> None:
            await self.notifier.emit_to_room(room_id, MESSAGE_ARRIVED, payload)

        self.uow.after_commit(announce)


def _client_key(item: Outgoing) -> ClientKey | None:
    """The (room, sender, clientMessageId) a send names, when it could name a stored message: a
    valid id only, so that nothing the database cannot take (a NUL) is ever sent to it."""
    if item.sender.id is None or item.new.reply_to is not None:
        return None
    try:
        client_message_id = check_client_message_id(item.new.client_message_id)
    except InvalidInput:
        return None  # refused as the send is checked
    return None if client_message_id is None else ClientKey(item.room_id, item.sender.id, client_message_id)


async def _store_alone(
    uow: UnitOfWork, notifier: RoomNotifier, rules: MessageRules, item: Outgoing
) -> StoredMessage:
    return await store_message(
        uow,
        notifier,
        rules,
        room_id=item.room_id,
        sender=item.sender,
        new=item.new,
        status=item.status,
        participants=item.participants,
    )


async def store_messages(
    uow: UnitOfWork, notifier: RoomNotifier, rules: MessageRules, items: Sequence[Outgoing]
) -> list[Outcome]:
    """Store each message, in order; a message the rules refuse gets its error and stores nothing."""
    outcomes: list[Any] = [None] * len(items)
    pending = _Rows(uow, notifier, rules, outcomes)
    keys = [_client_key(item) for item in items]
    named = {key for key in keys if key is not None}
    stored = await MessageRepository(uow.session).find_by_client_ids(named) if named else {}
    for slot, (item, key) in enumerate(zip(items, keys, strict=True)):
        new = item.new
        try:
            if new.reply_to is not None:
                await pending.write()
                outcomes[slot] = await _store_alone(uow, notifier, rules, item)
                continue
            # The checks and their order are store_message's.
            message_type, content = item.checked or validate_content(
                rules.definition, new.message_type, new.content, rules.max_bytes
            )
            client_message_id = check_client_message_id(new.client_message_id)
            if new.forwarded is not None and not isinstance(new.forwarded, bool):
                raise InvalidInput("forwarded must be a boolean", key="errMsg_forwardedIsNotValid")
            existing = stored.get(key) if key is not None else None
            if existing is not None:
                outcomes[slot] = same_send(existing, message_type.name, content, None, bool(new.forwarded))
                continue
        except AppError as exc:
            outcomes[slot] = exc
            continue
        pending.add(slot, item, message_type, content, client_message_id)
    await pending.write()
    assert all(outcome is not None for outcome in outcomes)
    return outcomes
