"""outgoing events: the outbox table and webhook deliveries

Revision ID: 0003_outbox
Revises: 0002

``outbox_event`` holds every event of a committed change, written in the same transaction
(its ``id``, ``aggregatetype``, ``aggregateid``, ``type`` and ``payload`` columns are the ones
Debezium's outbox event router reads). ``webhook_delivery`` tracks each event's delivery to each
configured webhook endpoint.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tutorhub_messaging.db.types import IdType, SequenceKey, UtcDateTime

revision: str = "0003_outbox"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_event",
        sa.Column("seq", SequenceKey, autoincrement=True, nullable=False),
        sa.Column("id", IdType, nullable=False),
        sa.Column("aggregatetype", sa.String(length=64), nullable=False),
        sa.Column("aggregateid", IdType, nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("occurred_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox_event")),
        sa.UniqueConstraint("id", name=op.f("uq_outbox_event_id")),
    )
    op.create_index(op.f("ix_outbox_event_occurred_at"), "outbox_event", ["occurred_at"], unique=False)
    op.create_table(
        "webhook_delivery",
        sa.Column("id", SequenceKey, autoincrement=True, nullable=False),
        sa.Column("event_id", IdType, nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("room_id", IdType, nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("retry_from", UtcDateTime(), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("leased_by", sa.String(length=64), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
    )
    op.create_index(
        op.f("ix_webhook_delivery_endpoint_status_room_id_id"),
        "webhook_delivery",
        ["endpoint", "status", "room_id", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_webhook_delivery_status_updated_at"),
        "webhook_delivery",
        ["status", "updated_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_delivery_status_updated_at"), table_name="webhook_delivery")
    op.drop_index(op.f("ix_webhook_delivery_endpoint_status_room_id_id"), table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_index(op.f("ix_outbox_event_occurred_at"), table_name="outbox_event")
    op.drop_table("outbox_event")
