"""What a joining socket is told about a room's past: ``hub:history`` and the catch-up after it.

A join reads the history before the socket enters the Socket.IO room (so no live message can
reach the client before ``hub:joined``/``hub:history``); what is broadcast to the room in between
is kept for it (``hub.arrivals``) and delivered as ``hub:messageArrived`` once it is in, minus what
the history already held. With ``after``, the page is read in one statement, the message it
resumes after included, so a rejoin of a client that holds its history costs one read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import ChatMessage
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.errors import InvalidInput
from tutorhub_messaging.messages.repository import MessageRepository
from tutorhub_messaging.messages.serializers import message_record


@dataclass(frozen=True, slots=True)
class History:
    records: list[dict[str, Any]]
    # Deliver what was broadcast while the join was in flight; False when the client should page
    # on over REST instead (an ``after`` page that came back full).
    catch_up: bool
    # Messages stored in the last ``RECENT_SECONDS``: their broadcast may still be on its way.
    recent: list[str] = field(default_factory=list)

    def holds(self, arrival: dict[str, Any]) -> bool:
        """Whether a ``hub:messageArrived`` payload is a message this history already carries."""
        message_id = arrival.get("message", {}).get("id")
        return any(record["id"] == message_id for record in self.records)


async def read_history(session: AsyncSession, room_id: str, limit: int, after: str | None) -> History:
    """The latest ``limit`` active messages newest first, or with ``after`` the ones stored after
    that message oldest first."""
    messages = MessageRepository(session)
    if after is None:
        rows = await messages.latest_for_room(room_id, limit)
        return History([message_record(r) for r in rows], True, _recent(rows))
    # Deleted or not, as over REST: the client may resume after a message deleted since.
    found = await messages.resume_after(room_id, after, limit)
    if found is None:
        raise InvalidInput("after must name a message of this room", key="errMsg_afterIsNotValid")
    return History([message_record(r) for r in found], len(found) < limit, _recent(found))


# How long a stored message's broadcast may take to reach this process, generously: a commit
# under load, then Redis.
RECENT_SECONDS = 10.0


def _recent(rows: list[ChatMessage]) -> list[str]:
    since = utcnow() - timedelta(seconds=RECENT_SECONDS)
    return [row.id for row in rows if row.created_at >= since]
