"""``sendSystemMessage``: the admin panel's moderation warnings, delivered as chat messages.

One unit of work finds or creates the admin channel, stores the warning through the one message
store path (which queues the live ``hub:messageArrived`` for after the commit) and returns the
updated conversation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.conversations.repository import ConversationRepository
from tutorhub_messaging.conversations.schemas import SendSystemMessageBody
from tutorhub_messaging.conversations.serializers import conversation_record
from tutorhub_messaging.conversations.service import (
    NewConversation,
    check_participants_differ,
    find_or_create,
)
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.errors import InvalidInput
from tutorhub_messaging.identity.directory import DirectoryRepository
from tutorhub_messaging.messages.service import NewMessage, Sender, store_message

CHANNEL_FOR_ROLE = {"student": "adminStudent", "tutor": "adminTutor"}
# Shown when the directory does not know the configured system admin.
SYSTEM_ADMIN_NAME = "TutorHub Admin"
DEFAULT_SEVERITY = "warning"


@dataclass(frozen=True, slots=True)
class Delivered:
    conversation: dict[str, Any]
    message: dict[str, Any]


def warning_content(body: SendSystemMessageBody) -> dict[str, Any]:
    content: dict[str, Any] = {
        "body": body.messageContent,
        "severity": body.severity or DEFAULT_SEVERITY,
    }
    if body.resolutionType is not None:
        content["resolutionType"] = body.resolutionType
    if body.complaintId is not None:
        content["complaintId"] = body.complaintId
    return content


async def send_system_message(uow: UnitOfWork, context: AppContext, body: SendSystemMessageBody) -> Delivered:
    if not body.messageContent.strip():
        raise InvalidInput("messageContent must not be empty", key="errMsg_messageContentisRequired")
    admin_id = context.settings.system_admin_id.lower()
    check_participants_differ(admin_id, body.targetUserId)

    admin = await DirectoryRepository(uow.session).get(admin_id)
    admin_name = (admin.fullname if admin else None) or SYSTEM_ADMIN_NAME
    found = await find_or_create(
        uow.session,
        NewConversation(
            conversation_type=CHANNEL_FOR_ROLE[body.targetUserRole],
            participant_a=admin_id,
            participant_b=body.targetUserId,
            owner=admin_id,
            participant_a_name=admin_name,
        ),
    )
    stored = await store_message(
        uow,
        context.notifier,
        context.message_rules,
        room_id=found.conversation.id,
        sender=Sender(admin_id, admin_name, admin.avatar if admin else None),
        new=NewMessage(message_type="warning", content=warning_content(body)),
        participants=(found.conversation.participant_a, found.conversation.participant_b),
    )
    # store_message moved lastMessageAt/preview with a statement; answer with the stored values.
    conversation = await ConversationRepository(uow.session).reload(found.conversation)
    return Delivered(conversation_record(conversation), stored.record)
