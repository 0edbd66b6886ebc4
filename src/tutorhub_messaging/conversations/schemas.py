"""Request bodies and response shapes of the conversation API (and its M2M routes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tutorhub_messaging.rest.fields import BodyId, Name, Text, Title
from tutorhub_messaging.rest.openapi import NON_BLANK, ListEnvelope, SuccessEnvelope

ConversationType = Literal["studentTutor", "adminStudent", "adminTutor"]
ConversationStatus = Literal["active", "closed"]
Severity = Literal["info", "warning", "critical"]
ResolutionType = Literal["warn", "requireEdit", "removeCourse", "suspend", "ban"]
# The enrollment service's status names; only "active" opens a conversation.
EnrollmentStatus = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")]

STRICT_BODY = ConfigDict(strict=True, extra="ignore")


class CreateConversationBody(BaseModel):
    model_config = STRICT_BODY

    conversationType: ConversationType
    participantA: BodyId
    participantB: BodyId
    enrollmentId: BodyId | None = None
    # Listed by the guide but kept by the service from stored messages: checked, then ignored.
    lastMessageAt: Annotated[datetime | None, Field(strict=False)] = None
    lastMessagePreview: Text | None = None
    participantAName: Name | None = None
    participantBName: Name | None = None
    courseTitle: Title | None = None


class SendSystemMessageBody(BaseModel):
    model_config = STRICT_BODY

    targetUserId: BodyId
    targetUserRole: Literal["student", "tutor"]
    messageContent: Annotated[Text, NON_BLANK]  # blank is refused by the service
    resolutionType: ResolutionType | None = None
    complaintId: BodyId | None = None
    severity: Severity | None = None


class EnrollmentSyncBody(BaseModel):
    model_config = STRICT_BODY

    studentId: BodyId
    tutorUserId: BodyId
    tutorProfileId: BodyId
    coursePackId: BodyId
    courseTitle: Title | None = None
    studentName: Name | None = None
    tutorName: Name | None = None
    status: EnrollmentStatus


# Responses. Dates are ISO 8601 strings with milliseconds and "Z".


class ConversationRecord(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    conversationType: ConversationType
    conversationType_idx: int
    participantA: str
    participantB: str
    enrollmentId: str | None
    lastMessageAt: datetime | None
    lastMessagePreview: str | None
    status: ConversationStatus
    status_idx: int
    participantAName: str | None
    participantBName: str | None
    courseTitle: str | None
    isActive: bool
    recordVersion: int
    createdAt: datetime
    updatedAt: datetime
    owner: str | None = Field(alias="_owner")


class EnrollmentSummary(BaseModel):
    coursePackId: str
    studentId: str
    tutorProfileId: str


class ConversationDetail(ConversationRecord):
    enrollment: EnrollmentSummary | None


class InboxConversation(ConversationRecord):
    unreadCount: int
    # The guide's sample shows an array here (one element when linked, empty otherwise).
    enrollment: list[EnrollmentSummary]


class ChatMessageRecord(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    roomId: str
    senderId: str | None
    senderName: str | None
    senderAvatar: str | None
    messageType: str
    messageType_idx: int
    content: dict[str, Any]
    timestamp: datetime
    status: str | None
    status_idx: int | None
    replyTo: dict[str, Any] | None
    forwarded: bool
    clientMessageId: str | None
    isActive: bool
    recordVersion: int
    createdAt: datetime
    updatedAt: datetime
    owner: str | None = Field(alias="_owner")


class EnrollmentRecord(BaseModel):
    id: str
    studentId: str
    tutorUserId: str
    tutorProfileId: str
    coursePackId: str
    courseTitle: str | None
    studentName: str | None
    tutorName: str | None
    status: str
    createdAt: datetime
    updatedAt: datetime


class ConversationEnvelope(SuccessEnvelope):
    conversation: ConversationRecord


class ConversationDetailEnvelope(SuccessEnvelope):
    conversation: ConversationDetail


class InboxEnvelope(ListEnvelope):
    conversations: list[InboxConversation]


class SystemMessageEnvelope(SuccessEnvelope):
    conversation: ConversationRecord
    chatMessage: ChatMessageRecord = Field(description="the warning message that was stored")


class EnrollmentSyncEnvelope(SuccessEnvelope):
    enrollment: EnrollmentRecord
    conversation: ConversationRecord | None = Field(
        description="the pair's studentTutor conversation after the sync (null when there is none)"
    )
