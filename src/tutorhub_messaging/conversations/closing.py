"""Closing a conversation: the one place a conversation's status becomes ``closed``.

The change records ``conversation.updated`` in the outbox. Once the unit of work commits, the
hub is told, so every socket in the room (on every process) gets ``hub:error ROOM_NOT_ELIGIBLE``
and leaves it. Reopening needs nothing from the hub: a closed room only refuses joins and sends
because of its status.
"""

from __future__ import annotations

from tutorhub_messaging.conversations.service import change_conversation
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.models import CONVERSATION_STATUSES, Conversation
from tutorhub_messaging.realtime import HubControl

CLOSED = "closed"


async def close_conversation(uow: UnitOfWork, hub_control: HubControl, conversation: Conversation) -> bool:
    """Close the conversation; False when it was closed already (nothing changes, nobody is told)."""
    changed = await change_conversation(
        uow.session, conversation, status=CLOSED, status_idx=CONVERSATION_STATUSES.index(CLOSED)
    )
    if changed:
        tell_hub_closed(uow, hub_control, conversation.id)
    return changed


def tell_hub_closed(uow: UnitOfWork, hub_control: HubControl, room_id: str) -> None:
    """Once the unit of work commits, the sockets in the room are told and leave it."""

    async def _tell_sockets() -> None:
        await hub_control.close_room(room_id)

    uow.after_commit(_tell_sockets)
