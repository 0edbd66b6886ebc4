"""All ORM models in one place, so Alembic sees every table.

Field names follow the guides (camelCase in JSON); columns are snake_case. Every record of the
guides' three objects carries id, isActive, recordVersion, createdAt, updatedAt, _owner and
``<enum>_idx`` for each enum field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, MetaData, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from tutorhub_messaging.db.types import IdType, JsonType, SequenceKey, UtcDateTime, utcnow

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CONVERSATION_TYPES = ("studentTutor", "adminStudent", "adminTutor")
CONVERSATION_STATUSES = ("active", "closed")
MESSAGE_TYPES = ("text", "image", "document", "system", "warning")
MESSAGE_STATUSES = ("pending", "approved", "rejected")
MODERATION_ACTIONS = ("blocked", "silenced")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class RecordMixin:
    """The bookkeeping fields every guide object carries."""

    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    record_version: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    owner: Mapped[str | None] = mapped_column(IdType, nullable=True)


class Conversation(RecordMixin, Base):
    __tablename__ = "conversation"
    __table_args__ = (
        UniqueConstraint("conversation_type", "participant_a", "participant_b"),
        Index(None, "participant_a", "last_message_at"),
        Index(None, "participant_b", "last_message_at"),
        Index(None, "enrollment_id"),
    )

    id: Mapped[str] = mapped_column(IdType, primary_key=True)
    conversation_type: Mapped[str] = mapped_column(String(20))
    conversation_type_idx: Mapped[int] = mapped_column(Integer)
    participant_a: Mapped[str] = mapped_column(IdType)
    participant_b: Mapped[str] = mapped_column(IdType)
    enrollment_id: Mapped[str | None] = mapped_column(IdType, nullable=True)
    last_message_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_message_preview: Mapped[str | None] = mapped_column(String(100), nullable=True)
    status: Mapped[str] = mapped_column(String(10))
    status_idx: Mapped[int] = mapped_column(Integer)
    participant_a_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    participant_b_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    course_title: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ChatMessage(RecordMixin, Base):
    __tablename__ = "chat_message"
    __table_args__ = (
        # A room's newest active messages (history, paging, `after` replay).
        Index(None, "room_id", "is_active", "seq"),
        # Unread counts: a room's active messages after a time.
        Index(None, "room_id", "is_active", "timestamp"),
        Index(None, "sender_id"),
        # Idempotent sends: one stored message per (room, sender, clientMessageId). Partial: the
        # many messages without a clientMessageId get no entry (no page written for them).
        Index(
            "uq_chat_message_client_message_id",
            "room_id",
            "sender_id",
            "client_message_id",
            unique=True,
            sqlite_where=text("client_message_id IS NOT NULL"),
            postgresql_where=text("client_message_id IS NOT NULL"),
        ),
    )

    # Internal insertion order; the public key is the UUID `id`.
    seq: Mapped[int] = mapped_column(SequenceKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(IdType, unique=True)
    room_id: Mapped[str] = mapped_column(IdType)
    sender_id: Mapped[str | None] = mapped_column(IdType, nullable=True)
    sender_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    sender_avatar: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    message_type: Mapped[str] = mapped_column(String(20))
    message_type_idx: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JsonType)
    timestamp: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[str | None] = mapped_column(String(10), nullable=True)
    status_idx: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reply_to: Mapped[dict[str, Any] | None] = mapped_column(JsonType, nullable=True)
    forwarded: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    client_message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ChatModeration(RecordMixin, Base):
    __tablename__ = "chat_moderation"
    __table_args__ = (Index(None, "room_id", "user_id", "is_active"),)

    id: Mapped[str] = mapped_column(IdType, primary_key=True)
    room_id: Mapped[str] = mapped_column(IdType)
    user_id: Mapped[str] = mapped_column(IdType)
    action: Mapped[str] = mapped_column(String(10))
    action_idx: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    issued_by: Mapped[str | None] = mapped_column(IdType, nullable=True)


class DirectoryUser(Base):
    """What the service knows of a user, refreshed by every authenticated call and by M2M sync."""

    __tablename__ = "directory_user"

    id: Mapped[str] = mapped_column(IdType, primary_key=True)
    fullname: Mapped[str | None] = mapped_column(String(255), nullable=True)
    avatar: Mapped[str | None] = mapped_column(String(2048), nullable=True)
    role_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Enrollment(Base):
    """Read model of the enrollment service's records, written by M2M sync."""

    __tablename__ = "enrollment"
    __table_args__ = (Index(None, "student_id", "tutor_user_id"),)

    id: Mapped[str] = mapped_column(IdType, primary_key=True)
    student_id: Mapped[str] = mapped_column(IdType)
    tutor_user_id: Mapped[str] = mapped_column(IdType)
    tutor_profile_id: Mapped[str] = mapped_column(IdType)
    course_pack_id: Mapped[str] = mapped_column(IdType)
    course_title: Mapped[str | None] = mapped_column(String(500), nullable=True)
    student_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tutor_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ReadState(Base):
    """The latest read time a user reported for a room; it never moves backwards."""

    __tablename__ = "read_state"

    room_id: Mapped[str] = mapped_column(IdType, primary_key=True)
    user_id: Mapped[str] = mapped_column(IdType, primary_key=True)
    last_read_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# --- Outgoing events: the transactional outbox and its webhook deliveries -------------------------


class OutboxEvent(Base):
    """One event of a committed change, written in the change's own transaction.

    ``id``, ``aggregatetype``, ``aggregateid``, ``type`` and ``payload`` are the columns Debezium's
    outbox event router reads; ``payload`` is the event exactly as webhooks send it (JSON text).
    """

    __tablename__ = "outbox_event"
    __table_args__ = (Index(None, "occurred_at"),)

    seq: Mapped[int] = mapped_column(SequenceKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(IdType, unique=True)
    aggregatetype: Mapped[str] = mapped_column(String(64))
    aggregateid: Mapped[str] = mapped_column(IdType)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookDelivery(Base):
    """One event to one webhook endpoint: pending until a 2xx answer, then delivered (or dead)."""

    __tablename__ = "webhook_delivery"
    # Partial indexes: a row is in the one of its status, so settling a delivery removes one
    # index entry and adds one to a small index, where full indexes over ``status`` rewrote two
    # entries of two large ones (the settle was most of the delivery worker's database time). The
    # queries name the status as a literal, which is how both databases match them to the index.
    __table_args__ = (
        # The head of each (endpoint, room) queue, and the claim scan.
        Index(
            "ix_webhook_delivery_pending",
            "endpoint",
            "room_id",
            "id",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        # Pruning what was delivered before the retention.
        Index(
            "ix_webhook_delivery_delivered",
            "updated_at",
            sqlite_where=text("status = 'delivered'"),
            postgresql_where=text("status = 'delivered'"),
        ),
        # Counting and listing dead letters.
        Index(
            "ix_webhook_delivery_dead",
            "id",
            sqlite_where=text("status = 'dead'"),
            postgresql_where=text("status = 'dead'"),
        ),
    )

    # Order of creation: the order an endpoint receives a room's events in.
    id: Mapped[int] = mapped_column(SequenceKey, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(IdType)
    event_type: Mapped[str] = mapped_column(String(64))
    endpoint: Mapped[str] = mapped_column(String(2048))
    room_id: Mapped[str] = mapped_column(IdType)
    status: Mapped[str] = mapped_column(String(10))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Retries stop this long after it (the retry budget); a replay starts it again.
    retry_from: Mapped[datetime] = mapped_column(UtcDateTime)
    # No longer written: the lease is the room queue's (``WebhookRoomQueue``). Kept so that a
    # database migrated before the queues keeps its schema without a table rebuild on SQLite.
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    leased_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookRoomQueue(Base):
    """One (endpoint, room) with pending deliveries: when its head is due, and who holds its lease.

    Written in the same transaction as the deliveries it stands for, so a claim reads the due
    rooms off ``(endpoint, due_at)`` and costs what it takes, however many deliveries wait (a
    receiver that was down for an hour leaves a long backlog). The lease is the room's: one
    process at a time sends a room's events, in order."""

    __tablename__ = "webhook_room_queue"
    __table_args__ = (Index(None, "endpoint", "due_at"),)

    endpoint: Mapped[str] = mapped_column(String(2048), primary_key=True)
    room_id: Mapped[str] = mapped_column(IdType, primary_key=True)
    # When the head (the room's oldest pending delivery) may be sent: now, or its next retry.
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    leased_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class IdempotencyKey(Base):
    """The first answer to a service call made with an ``Idempotency-Key``, per calling service."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index(None, "expires_at"),)

    caller: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # SHA-256 of the operation, its target and its body: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
