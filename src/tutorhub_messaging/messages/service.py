"""Storing a message: the one path every send takes (hub:send, REST POST, sendSystemMessage).

Callers decide *whether* the sender may send (hub roles, moderation, rate limit); this module
decides *what* is stored: content checked against its type, reply target resolved, idempotency by
``clientMessageId``, the conversation's inbox preview and the sender's read state updated, the
``chatMessage.created`` event recorded in the outbox, and the ``hub:messageArrived`` broadcast
queued for after the commit.

The event stands for the whole send: the inbox preview and the sender's read state that a send
moves are not announced as ``conversation.updated`` / ``readState.updated`` of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from tutorhub_messaging.conversations.repository import ConversationRepository
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.models import MESSAGE_STATUSES, MESSAGE_TYPES, ChatMessage
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.errors import ClientMessageIdReused, InvalidInput
from tutorhub_messaging.hub.definition import HubDefinition
from tutorhub_messaging.identity.tokens import UUID_RE
from tutorhub_messaging.messages.content import preview_of, validate_content
from tutorhub_messaging.messages.read_state_repository import ReadStateRepository
from tutorhub_messaging.messages.repository import MessageRepository
from tutorhub_messaging.messages.serializers import message_record
from tutorhub_messaging.outbox import CHAT_MESSAGE_CREATED, record
from tutorhub_messaging.realtime import RoomNotifier

MAX_CLIENT_MESSAGE_ID = 64
MESSAGE_ARRIVED = "hub:messageArrived"


@dataclass(frozen=True, slots=True)
class Sender:
    id: str | None
    fullname: str | None
    avatar: str | None

    def as_payload(self) -> dict[str, Any]:
        return {"id": self.id, "fullname": self.fullname, "avatar": self.avatar}


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A send request as the client gave it; nothing here is trusted yet."""

    message_type: Any
    content: Any
    reply_to: Any = None
    forwarded: Any = None
    client_message_id: Any = None


@dataclass(frozen=True, slots=True)
class MessageRules:
    definition: HubDefinition
    max_bytes: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    record: dict[str, Any]
    created: bool  # False when a clientMessageId retry found the message already stored


def message_row(
    room_id: str,
    sender: Sender,
    message_type_name: str,
    content: dict[str, Any],
    *,
    status: str,
    at: datetime,
    forwarded: bool,
    reply_to: dict[str, Any] | None = None,
    client_message_id: str | None = None,
) -> dict[str, Any]:
    """The column values of a new message (every store path builds its row here)."""
    return {
        "id": str(uuid.uuid4()),
        "room_id": room_id,
        "sender_id": sender.id,
        "sender_name": sender.fullname,
        "sender_avatar": sender.avatar,
        "message_type": message_type_name,
        "message_type_idx": MESSAGE_TYPES.index(message_type_name),
        "content": content,
        "timestamp": at,
        "status": status,
        "status_idx": MESSAGE_STATUSES.index(status),
        "reply_to": reply_to,
        "forwarded": forwarded,
        "client_message_id": client_message_id,
        "is_active": True,
        "record_version": 0,
        "created_at": at,
        "updated_at": at,
        "owner": sender.id,
    }


def record_message_created(
    uow: UnitOfWork, room_id: str, sender_id: str | None, participants: Sequence[str], message: dict[str, Any]
) -> None:
    """The outbox event of a stored message; its recipients are the participants but the sender."""
    record(
        uow,
        type=CHAT_MESSAGE_CREATED,
        aggregate_id=room_id,
        data=message,
        recipients=[user for user in participants if user != sender_id],
    )


def check_client_message_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CLIENT_MESSAGE_ID or "\x00" in value:
        raise InvalidInput(
            f"clientMessageId must be a string of 1 to {MAX_CLIENT_MESSAGE_ID} characters (no NUL)",
            key="errMsg_clientMessageIdIsNotValid",
        )
    return value


def _reply_target_id(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise InvalidInput("replyTo must be a message id or {id}", key="errMsg_replyToIsNotValid")
    return value.lower()


async def _resolve_reply(
    messages: MessageRepository, rules: MessageRules, room_id: str, value: Any
) -> dict[str, Any] | None:
    target_id = _reply_target_id(value)
    if target_id is None:
        return None
    target = await messages.get_active_in_room(room_id, target_id)
    if target is None:
        raise InvalidInput("Reply target not found in this room", key="errMsg_replyToIsNotValid")
    target_type = rules.definition.message_types.get(target.message_type)
    preview = preview_of(target_type, target.content) if target_type else ""
    return {"id": target.id, "preview": preview}


def same_send(
    existing: ChatMessage,
    message_type_name: str,
    content: dict[str, Any],
    reply_target_id: str | None,
    forwarded: bool,
) -> StoredMessage:
    """A retry with a ``clientMessageId`` already stored: the stored message if it is the same send,
    refused otherwise (the client would believe a message stored that nobody ever receives)."""
    if not existing.is_active:
        raise ClientMessageIdReused("clientMessageId names a message that was deleted; use a new one")
    stored_reply = existing.reply_to.get("id") if isinstance(existing.reply_to, dict) else None
    if (
        existing.message_type != message_type_name
        or existing.content != content
        or stored_reply != reply_target_id
        or bool(existing.forwarded) != forwarded
    ):
        raise ClientMessageIdReused(
            "clientMessageId was already used for a message with other content; use a new one"
        )
    return StoredMessage(message_record(existing), created=False)


async def store_message(
    uow: UnitOfWork,
    notifier: RoomNotifier,
    rules: MessageRules,
    *,
    room_id: str,
    sender: Sender,
    new: NewMessage,
    status: str = "approved",
    participants: Sequence[str] | None = None,
) -> StoredMessage:
    """Store one message. ``participants`` (the room's, for the event's recipients) are read from
    the conversation when the caller does not have them."""
    message_type, content = validate_content(rules.definition, new.message_type, new.content, rules.max_bytes)
    client_message_id = check_client_message_id(new.client_message_id)
    if new.forwarded is not None and not isinstance(new.forwarded, bool):
        raise InvalidInput("forwarded must be a boolean", key="errMsg_forwardedIsNotValid")

    messages = MessageRepository(uow.session)
    forwarded = bool(new.forwarded)
    if client_message_id is not None and sender.id is not None:
        existing = await messages.find_by_client_id(room_id, sender.id, client_message_id)
        if existing is not None:
            reply_id = _reply_target_id(new.reply_to)
            return same_send(existing, message_type.name, content, reply_id, forwarded)

    reply_to = await _resolve_reply(messages, rules, room_id, new.reply_to)
    now = utcnow()
    message = ChatMessage(
        **message_row(
            room_id,
            sender,
            message_type.name,
            content,
            status=status,
            at=now,
            forwarded=forwarded,
            reply_to=reply_to,
            client_message_id=client_message_id,
        )
    )
    if client_message_id is not None:
        # A concurrent retry with the same clientMessageId may win the race: return its message.
        try:
            async with uow.session.begin_nested():
                await messages.add(message)
        except IntegrityError:
            assert sender.id is not None
            existing = await messages.find_by_client_id(room_id, sender.id, client_message_id)
            if existing is None:
                raise
            reply_id = reply_to["id"] if reply_to else None
            return same_send(existing, message_type.name, content, reply_id, forwarded)
    else:
        await messages.add(message)

    await ConversationRepository(uow.session).record_last_message(
        room_id, now, preview_of(message_type, content)
    )
    if sender.id is not None:
        await ReadStateRepository(uow.session).mark_read(room_id, sender.id, now)

    stored = message_record(message)
    if participants is None:
        conversation = await ConversationRepository(uow.session).get_active(room_id)
        participants = (
            (conversation.participant_a, conversation.participant_b) if conversation is not None else ()
        )
    record_message_created(uow, room_id, sender.id, participants, stored)
    payload = {"roomId": room_id, "sender": sender.as_payload(), "message": stored}

    async def _announce() -> None:
        await notifier.emit_to_room(room_id, MESSAGE_ARRIVED, payload)

    uow.after_commit(_announce)
    return StoredMessage(stored, created=True)
