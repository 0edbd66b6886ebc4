"""Rooms and messages for the message route tests.

Rooms (conversations) are written straight to the database, so these tests do not depend on how
conversations come to exist; messages go through the service's one store path or the REST route.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import update

from tests.support.users import User
from tutorhub_messaging.db.models import CONVERSATION_STATUSES, CONVERSATION_TYPES, ChatMessage, Conversation
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.messages.service import NewMessage, Sender, store_message
from tutorhub_messaging.moderation.service import apply_action


async def create_room(
    app: Any,
    participant_a: User,
    participant_b: User,
    *,
    conversation_type: str = "studentTutor",
    status: str = "active",
) -> str:
    now = utcnow()
    room_id = str(uuid.uuid4())
    async with app.context.db.unit_of_work() as uow:
        uow.session.add(
            Conversation(
                id=room_id,
                conversation_type=conversation_type,
                conversation_type_idx=CONVERSATION_TYPES.index(conversation_type),
                participant_a=participant_a.id,
                participant_b=participant_b.id,
                status=status,
                status_idx=CONVERSATION_STATUSES.index(status),
                participant_a_name=participant_a.fullname,
                participant_b_name=participant_b.fullname,
                is_active=True,
                record_version=0,
                created_at=now,
                updated_at=now,
                owner=participant_a.id,
            )
        )
    return room_id


async def store_text(
    app: Any, room_id: str, sender: User | None, body: str = "hello", **extra: Any
) -> dict[str, Any]:
    """Store a message through the service's store path (no rate limit, no hub rules)."""
    context = app.context
    message_type = extra.pop("message_type", "text")
    content = extra.pop("content", {"body": body})
    status = extra.pop("status", "approved")
    author = (
        Sender(sender.id, sender.fullname, sender.avatar) if sender is not None else Sender(None, None, None)
    )
    async with context.db.unit_of_work() as uow:
        stored = await store_message(
            uow,
            context.notifier,
            context.message_rules,
            room_id=room_id,
            sender=author,
            new=NewMessage(message_type=message_type, content=content, **extra),
            status=status,
        )
    return stored.record


async def set_timestamp(app: Any, message_id: str, at: datetime) -> None:
    """Move a stored message in time (messages are otherwise stamped with the current time)."""
    async with app.context.db.unit_of_work() as uow:
        await uow.session.execute(
            update(ChatMessage).where(ChatMessage.id == message_id).values(timestamp=at)
        )


async def block(app: Any, room_id: str, user: User, by: User, *, action: str = "blocked") -> None:
    async with app.context.db.unit_of_work() as uow:
        await apply_action(
            uow.session,
            room_id=room_id,
            user_id=user.id,
            action=action,
            reason="test",
            duration=0,
            issued_by=by.id,
        )


async def conversation_row(app: Any, room_id: str) -> Conversation:
    async with app.context.db.unit_of_work() as uow:
        row = await uow.session.get(Conversation, room_id)
        assert row is not None
        return row


def assert_hub_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The hub REST error body ``{success: false, error, code}`` with this status and code."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["success"] is False, body
    assert body["code"] == code, body
    assert isinstance(body["error"], str) and body["error"]
    assert set(body) == {"success", "error", "code"}
    return body


def assert_envelope_error(response: httpx.Response, status: int, key: str | None = None) -> dict[str, Any]:
    """The Mindbricks error envelope with this status (and ``errMsg_...`` key, when given)."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["result"] == "ERR", body
    assert body["status"] == status
    assert body["errCode"] == status
    if key is not None:
        assert body["message"] == key, body
    return body
