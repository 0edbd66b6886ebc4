"""The conversation API's rules: who may create which channel, who may read it, and the inbox."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.conversations.blocked_view import FrozenRoom, blocked_since, frozen_rooms
from tutorhub_messaging.conversations.repository import ConversationRepository
from tutorhub_messaging.conversations.schemas import CreateConversationBody
from tutorhub_messaging.conversations.serializers import conversation_record, enrollment_summary
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.models import CONVERSATION_STATUSES, CONVERSATION_TYPES, Conversation, Enrollment
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.enrollments.repository import ACTIVE, EnrollmentRepository
from tutorhub_messaging.errors import Conflict, Forbidden, InvalidInput, NotFound
from tutorhub_messaging.hub.definition import HubDefinition
from tutorhub_messaging.identity.directory import DirectoryRepository
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.messages.repository import MessageRepository
from tutorhub_messaging.outbox import CONVERSATION_CREATED, CONVERSATION_UPDATED, record

STUDENT_TUTOR = "studentTutor"
ADMIN_CHANNEL_TYPES = frozenset({"adminStudent", "adminTutor"})
OPEN = "active"


@dataclass(frozen=True, slots=True)
class NewConversation:
    """A conversation to create once the caller's rights and the enrollment have been checked."""

    conversation_type: str
    participant_a: str
    participant_b: str
    owner: str | None
    enrollment_id: str | None = None
    participant_a_name: str | None = None
    participant_b_name: str | None = None
    course_title: str | None = None


@dataclass(frozen=True, slots=True)
class Found:
    conversation: Conversation
    created: bool


@dataclass(frozen=True, slots=True)
class Inbox:
    conversations: list[dict[str, Any]]
    total: int


def check_participants_differ(participant_a: str, participant_b: str) -> None:
    if participant_a == participant_b:
        raise InvalidInput(
            "participantA and participantB must be two different users", key="errMsg_participantsMustDiffer"
        )


async def _directory_names(session: AsyncSession, *user_ids: str) -> dict[str, str]:
    known = await DirectoryRepository(session).get_many(list(user_ids))
    return {user_id: entry.fullname for user_id, entry in known.items() if entry.fullname}


async def find_or_create(session: AsyncSession, new: NewConversation) -> Found:
    """The (type, A, B) conversation, created if there is none; names not given come from the directory.

    A concurrent unit of work may insert the same key first: the unique constraint refuses ours
    inside a savepoint and the stored one is returned, so there is never a duplicate.
    """
    repository = ConversationRepository(session)
    key = (new.conversation_type, new.participant_a, new.participant_b)
    existing = await repository.get_by_key(*key)
    if existing is None:
        names = await _directory_names(session, new.participant_a, new.participant_b)
        now = utcnow()
        conversation = Conversation(
            id=str(uuid.uuid4()),
            conversation_type=new.conversation_type,
            conversation_type_idx=CONVERSATION_TYPES.index(new.conversation_type),
            participant_a=new.participant_a,
            participant_b=new.participant_b,
            enrollment_id=new.enrollment_id,
            status=OPEN,
            status_idx=CONVERSATION_STATUSES.index(OPEN),
            participant_a_name=new.participant_a_name or names.get(new.participant_a),
            participant_b_name=new.participant_b_name or names.get(new.participant_b),
            course_title=new.course_title,
            is_active=True,
            record_version=0,
            created_at=now,
            updated_at=now,
            owner=new.owner,
        )
        if await repository.add_unique(conversation):
            record(
                session,
                type=CONVERSATION_CREATED,
                aggregate_id=conversation.id,
                data=conversation_record(conversation),
            )
            return Found(conversation, created=True)
        existing = await repository.get_by_key(*key)
        assert existing is not None, "the unique key refused the insert, so the row exists"
    if not existing.is_active:
        raise Conflict("This conversation was deleted", key="errMsg_conversationDeleted")
    await _fill_missing_names(session, existing, new)
    return Found(existing, created=False)


async def change_conversation(session: AsyncSession, conversation: Conversation, **values: Any) -> bool:
    """Apply the values that differ (see ``ConversationRepository.change``) and record the
    ``conversation.updated`` event of a real change; False when nothing changed."""
    previous = conversation_record(conversation)
    if not await ConversationRepository(session).change(conversation, **values):
        return False
    record(
        session,
        type=CONVERSATION_UPDATED,
        aggregate_id=conversation.id,
        data=conversation_record(conversation),
        previous=previous,
    )
    return True


async def _fill_missing_names(
    session: AsyncSession, conversation: Conversation, new: NewConversation
) -> None:
    """A conversation created before a participant's name was known shows it once it is."""
    if conversation.participant_a_name and conversation.participant_b_name:
        return
    names = await _directory_names(session, conversation.participant_a, conversation.participant_b)
    await change_conversation(
        session,
        conversation,
        participant_a_name=conversation.participant_a_name
        or new.participant_a_name
        or names.get(conversation.participant_a),
        participant_b_name=conversation.participant_b_name
        or new.participant_b_name
        or names.get(conversation.participant_b),
    )


async def _check_enrollment(session: AsyncSession, body: CreateConversationBody) -> Enrollment:
    enrollment = await EnrollmentRepository(session).get(body.enrollmentId) if body.enrollmentId else None
    if (
        enrollment is None
        or enrollment.status != ACTIVE
        or enrollment.student_id != body.participantA
        or enrollment.tutor_user_id != body.participantB
    ):
        raise InvalidInput(
            "A studentTutor conversation needs the enrollmentId of an active enrollment "
            "of participantA (student) with participantB (tutor)",
            key="errMsg_enrollmentNotValid",
        )
    return enrollment


async def create_conversation(uow: UnitOfWork, principal: Principal, body: CreateConversationBody) -> Found:
    check_participants_differ(body.participantA, body.participantB)
    enrollment: Enrollment | None = None
    if body.conversationType in ADMIN_CHANNEL_TYPES:
        if not principal.is_admin:
            raise Forbidden("Only admins may open admin channels", key="errMsg_adminChannelNotAllowed")
        if body.enrollmentId is not None:
            raise InvalidInput(
                "enrollmentId is only for studentTutor conversations", key="errMsg_enrollmentNotValid"
            )
    else:
        if principal.user_id not in (body.participantA, body.participantB) and not principal.is_admin:
            raise Forbidden(
                "Only its participants or an admin may open this conversation",
                key="errMsg_notAParticipant",
            )
        enrollment = await _check_enrollment(uow.session, body)
    # Names of users come from the directory (what their own tokens and the user service say);
    # only an admin may name the participants in the body.
    given_a, given_b = (body.participantAName, body.participantBName) if principal.is_admin else (None, None)
    return await find_or_create(
        uow.session,
        NewConversation(
            conversation_type=body.conversationType,
            participant_a=body.participantA,
            participant_b=body.participantB,
            owner=principal.user_id,
            enrollment_id=enrollment.id if enrollment else None,
            participant_a_name=given_a or (enrollment.student_name if enrollment else None),
            participant_b_name=given_b or (enrollment.tutor_name if enrollment else None),
            course_title=body.courseTitle or (enrollment.course_title if enrollment else None),
        ),
    )


def may_read(principal: Principal, conversation: Conversation) -> bool:
    return principal.is_admin or principal.user_id in (conversation.participant_a, conversation.participant_b)


async def get_conversation(
    uow: UnitOfWork, principal: Principal, conversation_id: str, definition: HubDefinition
) -> dict[str, Any]:
    """The conversation with its enrollment summary; participants, admins and superAdmins only.
    A participant blocked in it sees it as it stood when the block was issued."""
    conversation = await ConversationRepository(uow.session).get_active(conversation_id)
    if conversation is None:
        raise NotFound("Conversation not found", key="errMsg_conversationNotFound")
    if not may_read(principal, conversation):
        raise Forbidden("Only participants and admins may read this conversation", key="errMsg_forbidden")
    enrollment = None
    if conversation.enrollment_id is not None:
        enrollment = await EnrollmentRepository(uow.session).get(conversation.enrollment_id)
    record = {**conversation_record(conversation), "enrollment": enrollment_summary(enrollment)}
    if principal.user_id in (conversation.participant_a, conversation.participant_b):
        blocks = await blocked_since(uow.session, principal.user_id)
        if conversation.id in blocks:
            frozen = await frozen_rooms(
                uow.session, definition, principal.user_id, {conversation.id: blocks[conversation.id]}
            )
            frozen[conversation.id].apply(record)
    return record


async def list_inbox(
    uow: UnitOfWork, principal: Principal, definition: HubDefinition, *, limit: int | None, offset: int
) -> Inbox:
    """The caller's conversations with unread counts: four queries per page, whatever its size.

    Rooms where the caller is blocked show as they stood when the block was issued, and take their
    place in the order by that time; the page is then cut from the whole inbox (blocks are rare)."""
    repository = ConversationRepository(uow.session)
    blocks = await blocked_since(uow.session, principal.user_id)
    if blocks:
        rows = await repository.inbox_page(principal.user_id, limit=None, offset=0)
        total = len(rows)
    else:
        rows = await repository.inbox_page(principal.user_id, limit=limit, offset=offset)
        total = await repository.inbox_size(principal.user_id) if limit is not None else len(rows)
    unread = await MessageRepository(uow.session).unread_counts_for(principal.user_id, [r.id for r in rows])
    linked = [r.enrollment_id for r in rows if r.enrollment_id is not None]
    enrollments = await EnrollmentRepository(uow.session).get_many(linked)
    frozen = await frozen_rooms(uow.session, definition, principal.user_id, blocks) if blocks else {}
    items = []
    for row in rows:
        summary = enrollment_summary(enrollments.get(row.enrollment_id)) if row.enrollment_id else None
        item = {
            **conversation_record(row),
            "unreadCount": unread.get(row.id, 0),
            "enrollment": [summary] if summary else [],
        }
        items.append(frozen[row.id].apply(item) if row.id in frozen else item)
    if blocks:
        items = _in_inbox_order(items, rows, frozen)
        items = items[offset:] if limit is None else items[offset : offset + limit]
    return Inbox(items, total)


def _in_inbox_order(
    items: list[dict[str, Any]], rows: list[Conversation], frozen: dict[str, FrozenRoom]
) -> list[dict[str, Any]]:
    """The inbox order (newest message first, never-messaged last, newest created first) by the
    times the caller sees."""

    def key(pair: tuple[dict[str, Any], Conversation]) -> tuple[bool, float, float]:
        _, row = pair
        at = frozen[row.id].last_message_at if row.id in frozen else row.last_message_at
        return (at is None, -(at.timestamp() if at else 0.0), -row.created_at.timestamp())

    by_id = sorted(zip(items, rows, strict=True), key=lambda pair: pair[1].id, reverse=True)
    return [item for item, _ in sorted(by_id, key=key)]  # stable: equal keys stay by id, descending
