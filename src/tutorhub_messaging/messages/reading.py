"""Read state: the latest read time a user reported for a room; it never moves backwards.

A report that moves it records ``readState.updated`` in the outbox, with the state before. (The
read state a send moves for its sender is part of that send's ``chatMessage.created``.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.types import iso
from tutorhub_messaging.messages.read_state_repository import ReadStateRepository
from tutorhub_messaging.outbox import READ_STATE_UPDATED, record


def read_state_record(room_id: str, user_id: str, last_read_at: datetime | None) -> dict[str, Any]:
    """The read state as the hub shows it (``hub:messageRead``)."""
    return {"roomId": room_id, "userId": user_id, "lastReadTimestamp": iso(last_read_at)}


async def mark_read(uow: UnitOfWork, room_id: str, user_id: str, at: datetime) -> datetime | None:
    """Move the user's read time forward to ``at``; returns where it stands now."""
    receipts = ReadStateRepository(uow.session)
    before = await receipts.last_read_at(room_id, user_id)
    if before is not None and before >= at:
        return before
    await receipts.mark_read(room_id, user_id, at)
    now = await receipts.last_read_at(room_id, user_id)
    record(
        uow,
        type=READ_STATE_UPDATED,
        aggregate_id=room_id,
        data=read_state_record(room_id, user_id, now),
        previous=read_state_record(room_id, user_id, before) if before is not None else None,
    )
    return now
