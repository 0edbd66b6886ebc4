"""clientMessageId uniqueness as a partial index

Revision ID: 0002
Revises: 0001

Most messages carry no clientMessageId, yet the unique constraint gave each of them an entry (a
leaf page written per message). A unique index over the rows that have one keeps the same rule
(NULLs never conflicted) and spares those writes. On SQLite, dropping the constraint rebuilds the
table (Alembic's batch mode copies the rows into a new table with the same columns and indexes).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CONSTRAINT = "uq_chat_message_room_id_sender_id_client_message_id"
_INDEX = "uq_chat_message_client_message_id"
_COLUMNS = ["room_id", "sender_id", "client_message_id"]
_HAS_CLIENT_ID = sa.text("client_message_id IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("chat_message") as batch_op:
        batch_op.drop_constraint(_CONSTRAINT, type_="unique")
    op.create_index(
        _INDEX,
        "chat_message",
        _COLUMNS,
        unique=True,
        sqlite_where=_HAS_CLIENT_ID,
        postgresql_where=_HAS_CLIENT_ID,
    )


def downgrade() -> None:
    op.drop_index(_INDEX, table_name="chat_message")
    with op.batch_alter_table("chat_message") as batch_op:
        batch_op.create_unique_constraint(_CONSTRAINT, _COLUMNS)
