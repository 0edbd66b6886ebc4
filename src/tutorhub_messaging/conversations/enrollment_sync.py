"""Enrollment sync: the studentTutor conversation follows its pair's enrollments.

A pair (student, tutor user) has one studentTutor conversation. It is open while at least one of
the pair's enrollments is active and closed otherwise; it links one of the active enrollments
(the one it already links while that stays active) and shows that enrollment's course title.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tutorhub_messaging.conversations.closing import close_conversation
from tutorhub_messaging.conversations.repository import ConversationRepository
from tutorhub_messaging.conversations.schemas import EnrollmentSyncBody
from tutorhub_messaging.conversations.serializers import conversation_record
from tutorhub_messaging.conversations.service import (
    OPEN,
    STUDENT_TUTOR,
    NewConversation,
    change_conversation,
    check_participants_differ,
    find_or_create,
)
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.models import CONVERSATION_STATUSES, Conversation, Enrollment
from tutorhub_messaging.enrollments.repository import EnrollmentRepository, EnrollmentValues
from tutorhub_messaging.enrollments.serializers import enrollment_record
from tutorhub_messaging.realtime import HubControl


@dataclass(frozen=True, slots=True)
class Synced:
    enrollment: dict[str, Any]
    conversation: dict[str, Any] | None
    created: bool  # the enrollment was not known before


def _link_for(conversation: Conversation | None, active: list[Enrollment], changed: Enrollment) -> Enrollment:
    """Keep the current link while it is active; else the enrollment just synced; else the newest."""
    by_id = {enrollment.id: enrollment for enrollment in active}
    if conversation is not None and conversation.enrollment_id in by_id:
        return by_id[conversation.enrollment_id]
    return by_id.get(changed.id, active[0])


async def _reconcile_pair(
    uow: UnitOfWork,
    hub_control: HubControl,
    student_id: str,
    tutor_user_id: str,
    changed: Enrollment,
    owner: str,
) -> Conversation | None:
    session = uow.session
    conversations = ConversationRepository(session)
    # Locked before the enrollments are read, so two syncs of one pair cannot both act on stale data.
    conversation = await conversations.get_by_key(STUDENT_TUTOR, student_id, tutor_user_id, lock=True)
    if conversation is not None and not conversation.is_active:
        return None  # a deleted conversation stays deleted
    active = await EnrollmentRepository(session).active_for_pair(student_id, tutor_user_id)
    if not active:
        if conversation is not None:
            await close_conversation(uow, hub_control, conversation)
        return conversation

    link = _link_for(conversation, active, changed)
    if conversation is None:
        found = await find_or_create(
            session,
            NewConversation(
                conversation_type=STUDENT_TUTOR,
                participant_a=student_id,
                participant_b=tutor_user_id,
                owner=owner,
                enrollment_id=link.id,
                participant_a_name=link.student_name,
                participant_b_name=link.tutor_name,
                course_title=link.course_title,
            ),
        )
        conversation = found.conversation
    await change_conversation(
        session,
        conversation,
        status=OPEN,
        status_idx=CONVERSATION_STATUSES.index(OPEN),
        enrollment_id=link.id,
        course_title=link.course_title or conversation.course_title,
        participant_a_name=conversation.participant_a_name or link.student_name,
        participant_b_name=conversation.participant_b_name or link.tutor_name,
    )
    return conversation


async def sync_enrollment(
    uow: UnitOfWork,
    enrollment_id: str,
    body: EnrollmentSyncBody,
    *,
    owner: str,
    hub_control: HubControl,
) -> Synced:
    """Store the enrollment as reported, then bring the pair's conversation in line with it.

    ``owner`` is recorded as the ``_owner`` of a conversation this sync creates; a conversation
    this sync closes is announced to the hub through ``hub_control`` after the commit.
    """
    check_participants_differ(body.studentId, body.tutorUserId)
    enrollments = EnrollmentRepository(uow.session)
    previous = await enrollments.get(enrollment_id)
    previous_pair = (previous.student_id, previous.tutor_user_id) if previous else None
    stored = await enrollments.upsert(
        EnrollmentValues(
            id=enrollment_id,
            student_id=body.studentId,
            tutor_user_id=body.tutorUserId,
            tutor_profile_id=body.tutorProfileId,
            course_pack_id=body.coursePackId,
            course_title=body.courseTitle,
            student_name=body.studentName,
            tutor_name=body.tutorName,
            status=body.status,
        )
    )
    pair = (stored.student_id, stored.tutor_user_id)
    if previous_pair is not None and previous_pair != pair:
        # The enrollment moved to another pair: the old pair may have lost its last active one.
        await _reconcile_pair(uow, hub_control, *previous_pair, stored, owner)
    conversation = await _reconcile_pair(uow, hub_control, *pair, stored, owner)
    return Synced(
        enrollment_record(stored),
        conversation_record(conversation) if conversation is not None else None,
        created=previous is None,
    )
