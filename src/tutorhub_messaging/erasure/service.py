"""Erasing a user: everything the service holds about them that is not kept for audit.

In one unit of work, rewritten ``erasure_batch_size`` rows at a time (so memory holds one batch,
however many messages the user wrote):

- every message they sent is soft-deleted, its content emptied (``{}``) and its ``senderName``
  and ``senderAvatar`` cleared (``chatMessage.deleted``);
- every reply quoting one of those messages has its quoted preview emptied (``chatMessage.updated``);
- their conversations are closed and their cached name cleared, and every conversation whose
  newest message was theirs shows its newest remaining one (``conversation.updated``);
- their read state (``readState.updated`` with no read time) and their directory row go, and the
  names the enrollment read model kept for them.

Moderation records about the user (``chatModeration``) are kept for audit. Events of an erasure
carry no ``previous`` record, so the outbox never repeats what was erased.

After the commit, sockets in the closed rooms are told and leave them (on every process), the
user's own sockets are disconnected, and rooms that stay open (where a superAdmin wrote) see the
deletions live. Erasing again changes nothing and records no event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tutorhub_messaging import outbox
from tutorhub_messaging.context import AppContext
from tutorhub_messaging.conversations.closing import CLOSED, tell_hub_closed
from tutorhub_messaging.conversations.repository import ConversationRepository
from tutorhub_messaging.conversations.serializers import conversation_record
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.models import CONVERSATION_STATUSES, ChatMessage
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.erasure.repository import ErasureRepository
from tutorhub_messaging.messages.content import preview_of
from tutorhub_messaging.messages.editing import MESSAGE_DELETED, MESSAGE_UPDATED
from tutorhub_messaging.messages.reading import read_state_record
from tutorhub_messaging.messages.repository import MessageRepository
from tutorhub_messaging.messages.serializers import message_record


@dataclass
class Erasure:
    """What one erasure changed (all zero when the user was erased already)."""

    user_id: str
    messages_erased: int = 0
    replies_cleared: int = 0
    conversations_closed: int = 0
    read_states_removed: int = 0
    directory_row_removed: bool = False
    # Rooms the user wrote in, and the messages and replies changed there (for live announcements).
    rooms: set[str] = field(default_factory=set)
    user_message_ids: set[str] = field(default_factory=set)
    deleted_live: list[tuple[str, str]] = field(default_factory=list)
    updated_live: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "messagesErased": self.messages_erased,
            "repliesCleared": self.replies_cleared,
            "conversationsClosed": self.conversations_closed,
            "readStatesRemoved": self.read_states_removed,
            "directoryRowRemoved": self.directory_row_removed,
        }


def _erased(message: ChatMessage) -> bool:
    return (
        not message.is_active
        and message.content == {}
        and message.sender_name is None
        and message.sender_avatar is None
    )


async def _erase_messages(uow: UnitOfWork, erasure: Erasure, batch: int) -> None:
    erasing = ErasureRepository(uow.session)
    after = 0
    while rows := await erasing.messages_of(erasure.user_id, after_seq=after, limit=batch):
        after = rows[-1].seq
        now = utcnow()
        for message in rows:
            erasure.rooms.add(message.room_id)
            erasure.user_message_ids.add(message.id)
            if _erased(message):
                continue
            if message.is_active:
                erasure.deleted_live.append((message.room_id, message.id))
            message.is_active = False
            message.content = {}
            message.sender_name = None
            message.sender_avatar = None
            message.record_version += 1
            message.updated_at = now
            erasure.messages_erased += 1
            outbox.record(
                uow,
                type=outbox.CHAT_MESSAGE_DELETED,
                aggregate_id=message.room_id,
                data=message_record(message),
            )
        await uow.session.flush()
        erasing.release(rows)


async def _clear_replies(uow: UnitOfWork, erasure: Erasure, batch: int) -> None:
    """Replies quote the message they answer (``replyTo.preview``): a reply must live in the same
    room as its target, so only the rooms the user wrote in are looked at."""
    erasing = ErasureRepository(uow.session)
    for room_id in sorted(erasure.rooms):
        after = 0
        while rows := await erasing.replies_in_room(room_id, after_seq=after, limit=batch):
            after = rows[-1].seq
            now = utcnow()
            for message in rows:
                quoted = message.reply_to or {}
                if quoted.get("id") not in erasure.user_message_ids or not quoted.get("preview"):
                    continue
                message.reply_to = {**quoted, "preview": ""}
                message.record_version += 1
                message.updated_at = now
                erasure.replies_cleared += 1
                record = message_record(message)
                outbox.record(uow, type=outbox.CHAT_MESSAGE_UPDATED, aggregate_id=room_id, data=record)
                if message.is_active:
                    erasure.updated_live.append((room_id, record))
            await uow.session.flush()
            erasing.release(rows)


async def _newest_preview(uow: UnitOfWork, context: AppContext, room_id: str) -> dict[str, Any]:
    """The inbox fields for the room's newest remaining active message (or for none)."""
    latest = await MessageRepository(uow.session).latest_active_in_room(room_id)
    if latest is None:
        return {"last_message_at": None, "last_message_preview": None}
    message_type = context.hub.message_types.get(latest.message_type)
    preview = preview_of(message_type, latest.content) if message_type else ""
    return {"last_message_at": latest.timestamp, "last_message_preview": preview}


async def _settle_conversations(uow: UnitOfWork, context: AppContext, erasure: Erasure) -> set[str]:
    """Close the user's conversations, forget their cached name there, and point every room they
    wrote in at its newest remaining message. Returns the rooms closed now."""
    user_id = erasure.user_id
    conversations = ConversationRepository(uow.session)
    closed: set[str] = set()
    for conversation in await ErasureRepository(uow.session).conversations_of(user_id, sorted(erasure.rooms)):
        values: dict[str, Any] = {}
        participant = user_id in (conversation.participant_a, conversation.participant_b)
        if participant:
            values["status"] = CLOSED
            values["status_idx"] = CONVERSATION_STATUSES.index(CLOSED)
            if conversation.participant_a == user_id:
                values["participant_a_name"] = None
            if conversation.participant_b == user_id:
                values["participant_b_name"] = None
        if conversation.id in erasure.rooms:
            values.update(await _newest_preview(uow, context, conversation.id))
        was_open = conversation.status != CLOSED
        if not await conversations.change(conversation, **values):
            continue
        outbox.record(
            uow,
            type=outbox.CONVERSATION_UPDATED,
            aggregate_id=conversation.id,
            data=conversation_record(conversation),
        )
        if participant and was_open and conversation.is_active:
            closed.add(conversation.id)
    erasure.conversations_closed = len(closed)
    return closed


async def _forget_the_rest(uow: UnitOfWork, erasure: Erasure) -> None:
    erasing = ErasureRepository(uow.session)
    states = await erasing.read_states_of(erasure.user_id)
    await erasing.delete_read_states(erasure.user_id)
    for room_id, _ in states:
        outbox.record(
            uow,
            type=outbox.READ_STATE_UPDATED,
            aggregate_id=room_id,
            data=read_state_record(room_id, erasure.user_id, None),
        )
    erasure.read_states_removed = len(states)
    erasure.directory_row_removed = await erasing.delete_directory_row(erasure.user_id)
    await erasing.clear_enrollment_names(erasure.user_id, utcnow())


def _announce(uow: UnitOfWork, context: AppContext, erasure: Erasure, closed: set[str]) -> None:
    """After the commit: closed rooms are emptied, the user's sockets disconnected, and rooms that
    stay open see the deletions and the emptied quotes."""
    for room_id in sorted(closed):
        tell_hub_closed(uow, context.hub_control, room_id)
    user_id = erasure.user_id
    notifier = context.notifier
    deleted = [(room, message) for room, message in erasure.deleted_live if room not in closed]
    updated = [(room, record) for room, record in erasure.updated_live if room not in closed]

    async def _live() -> None:
        await context.hub_control.disconnect_user(user_id)
        context.directory.forget(user_id)
        for room_id, message_id in deleted:
            await notifier.emit_to_room(
                room_id, MESSAGE_DELETED, {"roomId": room_id, "messageId": message_id}
            )
        for room_id, record in updated:
            await notifier.emit_to_room(room_id, MESSAGE_UPDATED, {"roomId": room_id, "message": record})

    uow.after_commit(_live)


async def erase_user(uow: UnitOfWork, context: AppContext, user_id: str) -> Erasure:
    erasure = Erasure(user_id)
    batch = context.settings.erasure_batch_size
    await _erase_messages(uow, erasure, batch)
    await _clear_replies(uow, erasure, batch)
    closed = await _settle_conversations(uow, context, erasure)
    await _forget_the_rest(uow, erasure)
    _announce(uow, context, erasure, closed)
    return erasure
