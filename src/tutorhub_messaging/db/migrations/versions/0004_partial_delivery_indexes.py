"""webhook deliveries indexed per status

Revision ID: 0004_partial_delivery_indexes
Revises: 0003_idempotency_keys

Settling a delivery changes its status. With ``status`` inside two full indexes, each settle
rewrote an entry of each (the delivery worker spent most of its database time there). Three
partial indexes, one per status a query looks for, keep every lookup indexed while a settle only
removes a row from the pending index and adds it to a small one.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_partial_delivery_indexes"
down_revision: str | None = "0003_idempotency_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "webhook_delivery"
# (name, columns, status)
_PARTIAL = (
    ("ix_webhook_delivery_pending", ["endpoint", "room_id", "id"], "pending"),
    ("ix_webhook_delivery_delivered", ["updated_at"], "delivered"),
    ("ix_webhook_delivery_dead", ["id"], "dead"),
)
_FULL = (
    ("ix_webhook_delivery_endpoint_status_room_id_id", ["endpoint", "status", "room_id", "id"]),
    ("ix_webhook_delivery_status_updated_at", ["status", "updated_at"]),
)


def upgrade() -> None:
    for name, columns, status in _PARTIAL:
        where = sa.text(f"status = '{status}'")
        op.create_index(name, _TABLE, columns, sqlite_where=where, postgresql_where=where)
    for name, _ in _FULL:
        op.drop_index(name, table_name=_TABLE)


def downgrade() -> None:
    for name, columns in _FULL:
        op.create_index(name, _TABLE, columns)
    for name, _, _ in _PARTIAL:
        op.drop_index(name, table_name=_TABLE)
