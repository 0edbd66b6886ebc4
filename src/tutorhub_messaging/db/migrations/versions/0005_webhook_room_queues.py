"""webhook room queues

Revision ID: 0005_webhook_room_queues
Revises: 0004_partial_delivery_indexes

One row per (endpoint, room) with pending deliveries: when the room's head is due and who holds
the room's lease. A claim used to rank every pending delivery of the endpoint to find each room's
head, so its cost grew with the backlog (0.4 s with 100,000 pending on SQLite, holding the one
writer); it now reads the due rooms off ``(endpoint, due_at)``. Filled from the pending deliveries
of a database that has some. The deliveries' own lease columns are no longer written.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tutorhub_messaging.db.types import IdType, UtcDateTime

revision: str = "0005_webhook_room_queues"
down_revision: str | None = "0004_partial_delivery_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_room_queue",
        sa.Column("endpoint", sa.String(length=2048), nullable=False),
        sa.Column("room_id", IdType, nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=False),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("leased_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("endpoint", "room_id", name=op.f("pk_webhook_room_queue")),
    )
    op.create_index(
        op.f("ix_webhook_room_queue_endpoint_due_at"),
        "webhook_room_queue",
        ["endpoint", "due_at"],
        unique=False,
    )
    # Every room with a pending delivery, due when its earliest one is (a head that is not due
    # yet is found so by the first claim, which then waits for it).
    op.execute(
        "INSERT INTO webhook_room_queue (endpoint, room_id, due_at) "
        "SELECT endpoint, room_id, MIN(next_attempt_at) FROM webhook_delivery "
        "WHERE status = 'pending' GROUP BY endpoint, room_id"
    )
    op.execute("UPDATE webhook_delivery SET lease_until = NULL, leased_by = NULL WHERE status = 'pending'")


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_room_queue_endpoint_due_at"), table_name="webhook_room_queue")
    op.drop_table("webhook_room_queue")
