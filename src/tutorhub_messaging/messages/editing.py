"""Editing and deleting a stored message: the rules of ``PATCH``/``DELETE /v1/v1/chat-messages/{id}``
and ``DELETE /chat/{roomId}/messages/{messageId}``, one soft delete for both.

Who may act:
- ``/v1``: the sender, or an admin/superAdmin; only admins change a message's ``status``.
- ``/chat``: the sender, or a hub role with ``delete_any`` (the ``system`` role of superAdmins).
A sender acts only while they may still read the room: a blocked user can neither edit nor delete
(so a block cannot be answered by erasing the evidence), and a silenced user cannot edit content.
A closed room does not stop either: it stops realtime chat, not the upkeep of what was said.

Every change keeps the conversation's inbox preview right, records its outbox event
(``chatMessage.updated`` with the previous record, ``chatMessage.deleted``) and is announced to
the room after commit (``hub:messageUpdated {roomId, message}``, ``hub:messageDeleted {roomId, messageId}``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging import outbox
from tutorhub_messaging.conversations.repository import ConversationRepository
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.models import ChatMessage
from tutorhub_messaging.errors import Forbidden, InvalidInput, NotFound, RoomNotFound
from tutorhub_messaging.hub.definition import HubDefinition
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.messages.content import check_size, clean_content, message_type_of, preview_of
from tutorhub_messaging.messages.history import access_room_history
from tutorhub_messaging.messages.repository import MessageEditing, MessageRepository
from tutorhub_messaging.messages.serializers import message_record
from tutorhub_messaging.messages.service import MessageRules
from tutorhub_messaging.moderation.service import check_may_speak
from tutorhub_messaging.realtime import RoomNotifier

MESSAGE_UPDATED = "hub:messageUpdated"
MESSAGE_DELETED = "hub:messageDeleted"


def _not_found() -> NotFound:
    return NotFound("Message not found", key="errMsg_chatMessageNotFound")


async def _locked_message(session: AsyncSession, message_id: str) -> ChatMessage:
    message = await MessageEditing(session).get_active_for_update(message_id)
    if message is None:
        raise _not_found()
    return message


async def _check_sender_still_reads(
    session: AsyncSession, hub: HubDefinition, principal: Principal, message: ChatMessage
) -> None:
    try:
        await access_room_history(session, hub, principal, message.room_id)
    except RoomNotFound:
        raise _not_found() from None


async def _refresh_inbox(session: AsyncSession, rules: MessageRules, room_id: str) -> None:
    """Point the conversation at its newest remaining active message (or at none)."""
    latest = await MessageRepository(session).latest_active_in_room(room_id)
    conversations = ConversationRepository(session)
    if latest is None:
        await conversations.set_last_message(room_id, None, None)
        return
    latest_type = rules.definition.message_types.get(latest.message_type)
    preview = preview_of(latest_type, latest.content) if latest_type else ""
    await conversations.set_last_message(room_id, latest.timestamp, preview)


async def update_chat_message(
    uow: UnitOfWork,
    notifier: RoomNotifier,
    rules: MessageRules,
    principal: Principal,
    message_id: str,
    *,
    content: Any = None,
    status: str | None = None,
) -> dict[str, Any]:
    if content is None and status is None:
        raise InvalidInput("Give content or status to update", key="errMsg_nothingToUpdate")
    session = uow.session
    message = await _locked_message(session, message_id)
    if not principal.is_admin:
        if message.sender_id != principal.user_id:
            raise Forbidden("You can edit only your own messages", key="errMsg_notMessageSender")
        if status is not None:
            raise Forbidden("Only admins can change a message's status", key="errMsg_statusChangeNotAllowed")
        await _check_sender_still_reads(session, rules.definition, principal, message)
        await check_may_speak(session, message.room_id, principal.user_id)

    cleaned: dict[str, Any] | None = None
    if content is not None:
        message_type = message_type_of(rules.definition, message.message_type)
        check_size(content, rules.max_bytes)
        cleaned = clean_content(message_type, content)
    previous = message_record(message)
    await MessageEditing(session).record_edit(message, content=cleaned, status=status)
    if cleaned is not None:
        latest = await MessageRepository(session).latest_active_in_room(message.room_id)
        if latest is not None and latest.id == message.id:
            await _refresh_inbox(session, rules, message.room_id)

    record = message_record(message)
    room_id = message.room_id
    outbox.record(uow, type=outbox.CHAT_MESSAGE_UPDATED, aggregate_id=room_id, data=record, previous=previous)
    payload = {"roomId": room_id, "message": record}

    async def _announce() -> None:
        await notifier.emit_to_room(room_id, MESSAGE_UPDATED, payload)

    uow.after_commit(_announce)
    return record


async def _soft_delete(
    uow: UnitOfWork, notifier: RoomNotifier, rules: MessageRules, message: ChatMessage
) -> dict[str, Any]:
    await MessageEditing(uow.session).mark_deleted(message)
    await _refresh_inbox(uow.session, rules, message.room_id)
    record = message_record(message)
    room_id = message.room_id
    outbox.record(uow, type=outbox.CHAT_MESSAGE_DELETED, aggregate_id=room_id, data=record)
    payload = {"roomId": room_id, "messageId": message.id}

    async def _announce() -> None:
        await notifier.emit_to_room(room_id, MESSAGE_DELETED, payload)

    uow.after_commit(_announce)
    return record


async def delete_chat_message(
    uow: UnitOfWork, notifier: RoomNotifier, rules: MessageRules, principal: Principal, message_id: str
) -> dict[str, Any]:
    """``/v1`` rules: the sender or an admin. Returns the record, now with ``isActive: false``."""
    message = await _locked_message(uow.session, message_id)
    if not principal.is_admin:
        if message.sender_id != principal.user_id:
            raise Forbidden("You can delete only your own messages", key="errMsg_notMessageSender")
        await _check_sender_still_reads(uow.session, rules.definition, principal, message)
    return await _soft_delete(uow, notifier, rules, message)


async def delete_room_message(
    uow: UnitOfWork,
    notifier: RoomNotifier,
    rules: MessageRules,
    principal: Principal,
    room_id: Any,
    message_id: str,
) -> dict[str, Any]:
    """Hub rules: the sender, or a role with ``delete_any``; the message must be in that room."""
    access = await access_room_history(uow.session, rules.definition, principal, room_id)
    message = await _locked_message(uow.session, message_id)
    if message.room_id != access.room_id:
        raise _not_found()
    if message.sender_id != principal.user_id and not access.permissions.delete_any:
        raise Forbidden("You can delete only your own messages", key="errMsg_notMessageSender")
    return await _soft_delete(uow, notifier, rules, message)
