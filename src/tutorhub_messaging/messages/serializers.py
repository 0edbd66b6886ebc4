"""The chatMessage record as the guides show it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row

from tutorhub_messaging.db.models import MESSAGE_STATUSES, MESSAGE_TYPES, ChatMessage
from tutorhub_messaging.db.types import iso


def enum_index(options: tuple[str, ...], value: str | None) -> int | None:
    return options.index(value) if value in options else None


def message_record(message: ChatMessage | Row[Any]) -> dict[str, Any]:
    """From an ORM object or a plain row of the message's columns (a batch of joins' pages)."""
    return {
        "id": message.id,
        "roomId": message.room_id,
        "senderId": message.sender_id,
        "senderName": message.sender_name,
        "senderAvatar": message.sender_avatar,
        "messageType": message.message_type,
        "messageType_idx": message.message_type_idx,
        "content": message.content,
        "timestamp": iso(message.timestamp),
        "status": message.status,
        "status_idx": message.status_idx,
        "replyTo": message.reply_to,
        "forwarded": message.forwarded,
        "clientMessageId": message.client_message_id,
        "isActive": message.is_active,
        "recordVersion": message.record_version,
        "createdAt": iso(message.created_at),
        "updatedAt": iso(message.updated_at),
        "_owner": message.owner,
    }


__all__ = ["MESSAGE_STATUSES", "MESSAGE_TYPES", "enum_index", "message_record"]
