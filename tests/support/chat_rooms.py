"""Rooms and messages for the message route tests.

Rooms (conversations) are written straight to the database, so these tests do not depend on how
conversations come to exist; messages go through the service's one store path or the REST route.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import update

from tests.support import hub_rooms
from tests.support.users import User
from tutorhub_messaging.db.models import ChatMessage, Conversation
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
    return await hub_rooms.create_room(
        app, participant_a, participant_b, kind=conversation_type, status=status
    )


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
