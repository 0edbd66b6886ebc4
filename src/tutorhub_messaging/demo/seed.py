"""Seeding the demo: four users, an active enrollment and three conversations with sample
messages of every type, through the same services the REST routes use.

Idempotent: users and the enrollment are upserts, conversations are found before they are
created, and every sample message carries a ``clientMessageId``, so a second run stores nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tutorhub_messaging.conversations.enrollment_sync import sync_enrollment
from tutorhub_messaging.conversations.schemas import EnrollmentSyncBody, SendSystemMessageBody
from tutorhub_messaging.conversations.service import NewConversation, find_or_create
from tutorhub_messaging.conversations.system_messages import warning_content
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.demo.users import (
    COURSE_GUIDELINES_BYTES,
    COURSE_PACK_ID,
    COURSE_TITLE,
    DEMO_FILES,
    ENROLLMENT_ID,
    STUDENT,
    TUTOR,
    TUTOR_PROFILE_ID,
    WORKSHEET_BYTES,
    DemoUser,
    admin_of,
    demo_users,
)
from tutorhub_messaging.hub.chat import CHAT_HUB
from tutorhub_messaging.identity.directory import DirectoryEntry, DirectoryRepository
from tutorhub_messaging.messages.service import MessageRules, NewMessage, Sender, store_message
from tutorhub_messaging.realtime import SilentHubControl, SilentNotifier
from tutorhub_messaging.settings import Settings


@dataclass
class Seeded:
    rooms: dict[str, str] = field(default_factory=dict)  # conversation type -> id
    messages_added: int = 0


def _sender(user: DemoUser) -> Sender:
    return Sender(user.id, user.fullname, user.avatar)


def _warning(target: DemoUser, body: str, severity: str, resolution: str | None) -> dict[str, Any]:
    request = SendSystemMessageBody(
        targetUserId=target.id,
        targetUserRole="student" if target.role == "student" else "tutor",
        messageContent=body,
        severity=severity,  # type: ignore[arg-type]
        resolutionType=resolution,  # type: ignore[arg-type]
    )
    return warning_content(request)


class _Room:
    """Stores a room's sample messages in order; a message already stored is left as it is."""

    def __init__(self, uow: UnitOfWork, rules: MessageRules, room_id: str, key: str, seeded: Seeded) -> None:
        self.uow, self.rules, self.room_id, self.key, self.seeded = uow, rules, room_id, key, seeded
        self.count = 0

    async def say(
        self,
        user: DemoUser,
        message_type: str,
        content: dict[str, Any],
        *,
        reply_to: str | None = None,
        forwarded: bool = False,
    ) -> str:
        self.count += 1
        stored = await store_message(
            self.uow,
            SilentNotifier(),
            self.rules,
            room_id=self.room_id,
            sender=_sender(user),
            new=NewMessage(
                message_type=message_type,
                content=content,
                reply_to=reply_to,
                forwarded=forwarded or None,
                client_message_id=f"demo:{self.key}:{self.count}",
            ),
        )
        if stored.created:
            self.seeded.messages_added += 1
        return str(stored.record["id"])


async def _student_tutor(room: _Room) -> None:
    await room.say(
        STUDENT,
        "system",
        {"systemAction": "enrollmentActivated", "systemData": {"text": f"Sam enrolled in {COURSE_TITLE}"}},
    )
    await room.say(TUTOR, "text", {"body": "Hi Sam! Welcome to Algebra I. The first worksheet is below."})
    await room.say(
        TUTOR,
        "document",
        {
            "mediaUrl": f"{DEMO_FILES}/linear-equations-worksheet.pdf",
            "fileName": "linear-equations-worksheet.pdf",
            "fileSize": WORKSHEET_BYTES,
            "mimeType": "application/pdf",
        },
    )
    question = await room.say(
        STUDENT, "text", {"body": "Thanks! In question 4, do I subtract 3 from both sides first?"}
    )
    await room.say(
        TUTOR,
        "image",
        {
            "mediaUrl": f"{DEMO_FILES}/whiteboard.svg",
            "caption": "How I would set up question 4",
            "width": 640,
            "height": 400,
        },
    )
    await room.say(
        TUTOR, "text", {"body": "Yes: subtract 3 first, then divide both sides by 2."}, reply_to=question
    )
    await room.say(
        STUDENT,
        "text",
        {"body": "From the school office: the mid-term test is on Friday, 9:00 in room B12."},
        forwarded=True,
    )
    await room.say(
        TUTOR,
        "system",
        {
            "systemAction": "lessonScheduled",
            "systemData": {"text": "Tara booked the next lesson: Thursday 17:00"},
        },
    )
    await room.say(TUTOR, "text", {"body": "See you on Thursday! Try questions 5 to 8 before then."})


async def _admin_student(room: _Room, admin: DemoUser) -> None:
    await room.say(
        admin,
        "warning",
        _warning(STUDENT, "Welcome to TutorHub! Please read the community guidelines.", "info", None),
    )
    await room.say(
        admin,
        "warning",
        _warning(
            STUDENT,
            "Please keep payments on the platform: a payment request outside TutorHub was reported.",
            "warning",
            "warn",
        ),
    )


async def _admin_tutor(room: _Room, admin: DemoUser) -> None:
    await room.say(
        admin,
        "system",
        {"systemAction": "reviewOpened", "systemData": {"text": f"Ada opened a review of {COURSE_TITLE}"}},
    )
    warning = await room.say(
        admin,
        "warning",
        _warning(
            TUTOR,
            "Your course description contains contact details. Edit it within 48 hours.",
            "critical",
            "requireEdit",
        ),
    )
    await room.say(
        admin,
        "document",
        {
            "mediaUrl": f"{DEMO_FILES}/course-guidelines.pdf",
            "fileName": "course-guidelines.pdf",
            "fileSize": COURSE_GUIDELINES_BYTES,
            "mimeType": "application/pdf",
        },
    )
    await room.say(
        TUTOR,
        "text",
        {"body": "Sorry about that, I have removed my phone number."},
        reply_to=warning,
    )
    await room.say(
        TUTOR,
        "image",
        {
            "mediaUrl": f"{DEMO_FILES}/course-page.svg",
            "caption": "The updated course description",
            "width": 640,
            "height": 360,
        },
    )
    await room.say(
        TUTOR,
        "text",
        {"body": 'Sam sent me this before the lesson: "Can I text you at 555-0100 instead?"'},
        forwarded=True,
    )
    await room.say(admin, "text", {"body": "Thank you, the review is closed."})
    await room.say(
        admin,
        "warning",
        _warning(TUTOR, "Reminder: keep every conversation with students on TutorHub.", "info", "warn"),
    )


async def seed_demo(uow: UnitOfWork, settings: Settings) -> Seeded:
    """Everything of the demo, in one unit of work."""
    admin = admin_of(settings)
    rules = MessageRules(CHAT_HUB, settings.max_message_bytes)
    seeded = Seeded()
    directory = DirectoryRepository(uow.session)
    for user in demo_users(settings):
        await directory.upsert(
            DirectoryEntry(user.id, user.fullname, user.avatar, user.role), keep_known_values=False
        )

    synced = await sync_enrollment(
        uow,
        ENROLLMENT_ID,
        EnrollmentSyncBody(
            studentId=STUDENT.id,
            tutorUserId=TUTOR.id,
            tutorProfileId=TUTOR_PROFILE_ID,
            coursePackId=COURSE_PACK_ID,
            courseTitle=COURSE_TITLE,
            studentName=STUDENT.fullname,
            tutorName=TUTOR.fullname,
            status="active",
        ),
        owner=admin.id,
        hub_control=SilentHubControl(),  # seeded before the hub runs: nobody to tell
    )
    assert synced.conversation is not None, "an active enrollment has its conversation"
    seeded.rooms["studentTutor"] = synced.conversation["id"]
    for kind, target in (("adminStudent", STUDENT), ("adminTutor", TUTOR)):
        found = await find_or_create(
            uow.session,
            NewConversation(
                conversation_type=kind,
                participant_a=admin.id,
                participant_b=target.id,
                owner=admin.id,
                participant_a_name=admin.fullname,
                participant_b_name=target.fullname,
            ),
        )
        seeded.rooms[kind] = found.conversation.id

    # The student's conversation last, so it is on top of both inboxes.
    await _admin_student(_Room(uow, rules, seeded.rooms["adminStudent"], "adminStudent", seeded), admin)
    await _admin_tutor(_Room(uow, rules, seeded.rooms["adminTutor"], "adminTutor", seeded), admin)
    await _student_tutor(_Room(uow, rules, seeded.rooms["studentTutor"], "studentTutor", seeded))
    return seeded


async def demo_seeded(uow: UnitOfWork, settings: Settings) -> bool:
    """Whether the demo users are in the directory (the demo has been seeded)."""
    known = await DirectoryRepository(uow.session).get_many([u.id for u in demo_users(settings)])
    return len(known) == len(demo_users(settings))
