"""initial schema

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tutorhub_messaging.db.types import IdType, JsonType, SequenceKey, UtcDateTime

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_message",
        sa.Column("seq", SequenceKey, autoincrement=True, nullable=False),
        sa.Column("id", IdType, nullable=False),
        sa.Column("room_id", IdType, nullable=False),
        sa.Column("sender_id", IdType, nullable=True),
        sa.Column("sender_name", sa.String(length=255), nullable=True),
        sa.Column("sender_avatar", sa.String(length=2048), nullable=True),
        sa.Column("message_type", sa.String(length=20), nullable=False),
        sa.Column("message_type_idx", sa.Integer(), nullable=False),
        sa.Column("content", JsonType, nullable=False),
        sa.Column("timestamp", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=True),
        sa.Column("status_idx", sa.Integer(), nullable=True),
        sa.Column("reply_to", JsonType, nullable=True),
        sa.Column("forwarded", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("client_message_id", sa.String(length=64), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("record_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("owner", IdType, nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_chat_message")),
        sa.UniqueConstraint("id", name=op.f("uq_chat_message_id")),
        sa.UniqueConstraint(
            "room_id",
            "sender_id",
            "client_message_id",
            name=op.f("uq_chat_message_room_id_sender_id_client_message_id"),
        ),
    )
    with op.batch_alter_table("chat_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_message_room_id_is_active_seq"),
            ["room_id", "is_active", "seq"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_chat_message_room_id_is_active_timestamp"),
            ["room_id", "is_active", "timestamp"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_chat_message_sender_id"), ["sender_id"], unique=False)

    op.create_table(
        "chat_moderation",
        sa.Column("id", IdType, nullable=False),
        sa.Column("room_id", IdType, nullable=False),
        sa.Column("user_id", IdType, nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("action_idx", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("duration", sa.Integer(), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("issued_by", IdType, nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("record_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("owner", IdType, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_moderation")),
    )
    with op.batch_alter_table("chat_moderation", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_chat_moderation_room_id_user_id_is_active"),
            ["room_id", "user_id", "is_active"],
            unique=False,
        )

    op.create_table(
        "conversation",
        sa.Column("id", IdType, nullable=False),
        sa.Column("conversation_type", sa.String(length=20), nullable=False),
        sa.Column("conversation_type_idx", sa.Integer(), nullable=False),
        sa.Column("participant_a", IdType, nullable=False),
        sa.Column("participant_b", IdType, nullable=False),
        sa.Column("enrollment_id", IdType, nullable=True),
        sa.Column("last_message_at", UtcDateTime(), nullable=True),
        sa.Column("last_message_preview", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("status_idx", sa.Integer(), nullable=False),
        sa.Column("participant_a_name", sa.String(length=255), nullable=True),
        sa.Column("participant_b_name", sa.String(length=255), nullable=True),
        sa.Column("course_title", sa.String(length=500), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("record_version", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("owner", IdType, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation")),
        sa.UniqueConstraint(
            "conversation_type",
            "participant_a",
            "participant_b",
            name=op.f("uq_conversation_conversation_type_participant_a_participant_b"),
        ),
    )
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_conversation_enrollment_id"), ["enrollment_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_conversation_participant_a_last_message_at"),
            ["participant_a", "last_message_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_conversation_participant_b_last_message_at"),
            ["participant_b", "last_message_at"],
            unique=False,
        )

    op.create_table(
        "directory_user",
        sa.Column("id", IdType, nullable=False),
        sa.Column("fullname", sa.String(length=255), nullable=True),
        sa.Column("avatar", sa.String(length=2048), nullable=True),
        sa.Column("role_id", sa.String(length=255), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_user")),
    )
    op.create_table(
        "enrollment",
        sa.Column("id", IdType, nullable=False),
        sa.Column("student_id", IdType, nullable=False),
        sa.Column("tutor_user_id", IdType, nullable=False),
        sa.Column("tutor_profile_id", IdType, nullable=False),
        sa.Column("course_pack_id", IdType, nullable=False),
        sa.Column("course_title", sa.String(length=500), nullable=True),
        sa.Column("student_name", sa.String(length=255), nullable=True),
        sa.Column("tutor_name", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrollment")),
    )
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enrollment_student_id_tutor_user_id"),
            ["student_id", "tutor_user_id"],
            unique=False,
        )

    op.create_table(
        "read_state",
        sa.Column("room_id", IdType, nullable=False),
        sa.Column("user_id", IdType, nullable=False),
        sa.Column("last_read_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_read_state")),
    )


def downgrade() -> None:
    op.drop_table("read_state")
    with op.batch_alter_table("enrollment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enrollment_student_id_tutor_user_id"))

    op.drop_table("enrollment")
    op.drop_table("directory_user")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_participant_b_last_message_at"))
        batch_op.drop_index(batch_op.f("ix_conversation_participant_a_last_message_at"))
        batch_op.drop_index(batch_op.f("ix_conversation_enrollment_id"))

    op.drop_table("conversation")
    with op.batch_alter_table("chat_moderation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_moderation_room_id_user_id_is_active"))

    op.drop_table("chat_moderation")
    with op.batch_alter_table("chat_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_message_sender_id"))
        batch_op.drop_index(batch_op.f("ix_chat_message_room_id_is_active_timestamp"))
        batch_op.drop_index(batch_op.f("ix_chat_message_room_id_is_active_seq"))

    op.drop_table("chat_message")
