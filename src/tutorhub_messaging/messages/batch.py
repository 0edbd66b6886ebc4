"""Storing many messages in one unit of work (group commit of ``hub:send``).

Each message is stored exactly as ``store_message`` stores it (same row, same inbox preview, same
sender read state, same ``hub:messageArrived`` after the commit); only the statements are shared:
one multi-row INSERT for the messages, one UPDATE per conversation and one read-state upsert per
(room, sender), instead of three statements per message. Messages that need a look-up of their
own (a ``clientMessageId`` to deduplicate, a ``replyTo`` to resolve) take ``store_message`` itself,
after the rows before them are written, so storage order is always arrival order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, cast

from tutorhub_messaging.conversations.repository import ConversationRepository, LastMessage
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.models import ChatMessage
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.errors import AppError, InvalidInput
from tutorhub_messaging.hub.definition import MessageType
from tutorhub_messaging.messages.content import preview_of, validate_content
from tutorhub_messaging.messages.repository import MessageRepository, ReadStateRepository
from tutorhub_messaging.messages.serializers import message_record
from tutorhub_messaging.messages.service import (
    MESSAGE_ARRIVED,
    MessageRules,
    NewMessage,
    Sender,
    StoredMessage,
    message_row,
    record_message_created,
    store_message,
)
from tutorhub_messaging.realtime import RoomNotifier


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


@dataclass
class _LastInRoom:
    at: datetime
    preview: str
    count: int


class _Rows:
    """Messages accepted but not yet written, and what they change in their rooms."""

    def __init__(self, uow: UnitOfWork, notifier: RoomNotifier) -> None:
        self.uow = uow
        self.notifier = notifier
        self.rows: list[dict[str, Any]] = []
        self.last: dict[str, _LastInRoom] = {}
        self.reads: dict[tuple[str, str], datetime] = {}
        # Events whose room's participants are still to be read: (room, sender, message).
        self.unknown_rooms: list[tuple[str, str | None, dict[str, Any]]] = []

    def add(
        self, item: Outgoing, message_type_name: str, content: dict[str, Any], preview: str
    ) -> StoredMessage:
        now = utcnow()
        sender = item.sender
        values = message_row(
            item.room_id,
            sender,
            message_type_name,
            content,
            status=item.status,
            at=now,
            forwarded=bool(item.new.forwarded),
        )
        self.rows.append(values)
        last = self.last.get(item.room_id)
        self.last[item.room_id] = _LastInRoom(now, preview, (last.count if last else 0) + 1)
        if sender.id is not None:
            self.reads[(item.room_id, sender.id)] = now
        # message_record only reads attributes: a plain namespace spares building an ORM object
        # (half the cost of accepting a message) for a row that is inserted with core SQL.
        record = message_record(cast(ChatMessage, SimpleNamespace(**values)))
        if item.participants is not None:
            record_message_created(self.uow, item.room_id, sender.id, item.participants, record)
        else:
            self.unknown_rooms.append((item.room_id, sender.id, record))
        payload = {"roomId": item.room_id, "sender": sender.as_payload(), "message": record}

        async def _announce() -> None:
            await self.notifier.emit_to_room(item.room_id, MESSAGE_ARRIVED, payload)

        self.uow.after_commit(_announce)
        return StoredMessage(record, created=True)

    async def write(self) -> None:
        if not self.rows:
            return
        session = self.uow.session
        if self.unknown_rooms:
            keys = await ConversationRepository(session).get_active_many(
                {room_id for room_id, _, _ in self.unknown_rooms}
            )
            participants = {key.id: (key.participant_a, key.participant_b) for key in keys}
            for room_id, sender_id, record in self.unknown_rooms:
                record_message_created(self.uow, room_id, sender_id, participants.get(room_id, ()), record)
        await MessageRepository(session).add_rows(self.rows)
        updated_at = utcnow()
        await ConversationRepository(session).record_last_messages(
            [
                LastMessage(room_id, last.at, last.preview, updated_at, last.count)
                for room_id, last in self.last.items()
            ]
        )
        if self.reads:
            await ReadStateRepository(session).mark_read_many(
                [(room_id, user_id, at) for (room_id, user_id), at in self.reads.items()]
            )
        self.rows, self.last, self.reads, self.unknown_rooms = [], {}, {}, []


async def store_messages(
    uow: UnitOfWork, notifier: RoomNotifier, rules: MessageRules, items: Sequence[Outgoing]
) -> list[StoredMessage | AppError]:
    """Store each message, in order; a message the rules refuse gets its error and stores nothing."""
    pending = _Rows(uow, notifier)
    outcomes: list[StoredMessage | AppError] = []
    for item in items:
        new = item.new
        try:
            if new.client_message_id is not None or new.reply_to is not None:
                await pending.write()
                outcomes.append(
                    await store_message(
                        uow,
                        notifier,
                        rules,
                        room_id=item.room_id,
                        sender=item.sender,
                        new=new,
                        status=item.status,
                        participants=item.participants,
                    )
                )
                continue
            message_type, content = item.checked or validate_content(
                rules.definition, new.message_type, new.content, rules.max_bytes
            )
            if new.forwarded is not None and not isinstance(new.forwarded, bool):
                raise InvalidInput("forwarded must be a boolean", key="errMsg_forwardedIsNotValid")
        except AppError as exc:
            outcomes.append(exc)
            continue
        outcomes.append(pending.add(item, message_type.name, content, preview_of(message_type, content)))
    await pending.write()
    return outcomes
