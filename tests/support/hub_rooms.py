"""Rooms (conversations) and stored messages for hub tests, written through the real database."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import update

from tests.support.users import User
from tutorhub_messaging.db.models import (
    CONVERSATION_STATUSES,
    CONVERSATION_TYPES,
    ChatMessage,
    ChatModeration,
    Conversation,
)
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.messages.read_state_repository import ReadStateRepository
from tutorhub_messaging.messages.repository import MessageRepository
from tutorhub_messaging.messages.service import NewMessage, Sender, store_message
from tutorhub_messaging.moderation.service import in_force


async def create_room(
    app: Any, participant_a: User, participant_b: User, *, kind: str = "studentTutor", status: str = "active"
) -> str:
    room_id = str(uuid.uuid4())
    now = utcnow()
    async with app.context.db.unit_of_work() as uow:
        uow.session.add(
            Conversation(
                id=room_id,
                conversation_type=kind,
                conversation_type_idx=CONVERSATION_TYPES.index(kind),
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


async def store_texts(app: Any, room_id: str, sender: User, *bodies: str) -> list[dict[str, Any]]:
    """Messages stored through the service's one store path (no hub rules, no rate limit)."""
    context = app.context
    records = []
    for body in bodies:
        async with context.db.unit_of_work() as uow:
            stored = await store_message(
                uow,
                context.notifier,
                context.message_rules,
                room_id=room_id,
                sender=Sender(sender.id, sender.fullname, sender.avatar),
                new=NewMessage(message_type="text", content={"body": body}),
            )
        records.append(stored.record)
    return records


async def message_count(app: Any, room_id: str) -> int:
    async with app.context.db.unit_of_work() as uow:
        return await MessageRepository(uow.session).count_for_room(room_id)


async def read_time(app: Any, room_id: str, user: User) -> Any:
    async with app.context.db.unit_of_work() as uow:
        return await ReadStateRepository(uow.session).last_read_at(room_id, user.id)


async def moderation_in_force(
    app: Any, room_id: str, user: User
) -> tuple[ChatModeration | None, ChatModeration | None]:
    """(block, silence) in force for a user in a room right now."""
    async with app.context.db.unit_of_work() as uow:
        state = await in_force(uow.session, room_id, user.id)
        return state.blocked, state.silenced


async def delete_message(app: Any, message_id: str) -> None:
    """Soft-delete a message, as the delete routes do."""
    async with app.context.db.unit_of_work() as uow:
        await uow.session.execute(
            update(ChatMessage).where(ChatMessage.id == message_id).values(is_active=False)
        )
