"""What a joining socket is told about a room's past: ``hub:history`` and the catch-up after it.

A join reads the history before the socket enters the Socket.IO room (so no live message can
reach the client before ``hub:joined``/``hub:history``); what is broadcast to the room in between
is kept for it (``hub.arrivals``) and delivered as ``hub:messageArrived`` once it is in, minus what
the history already held. The pages of a batch of joins (``hub.joining``) are read in one
statement; with ``after``, the message it resumes after is read in it too, so a rejoin of a
client that holds its history costs no second read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import ChatMessage
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.errors import InvalidInput
from tutorhub_messaging.messages.pages import PageRepository, PageWanted
from tutorhub_messaging.messages.serializers import message_record

AFTER_NOT_IN_ROOM, AFTER_NOT_IN_ROOM_KEY = "after must name a message of this room", "errMsg_afterIsNotValid"


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


async def read_histories(
    session: AsyncSession, wanted: Sequence[PageWanted], limit: int
) -> list[History | InvalidInput]:
    """Each join's history, in the order of ``wanted``, read in one statement: the latest ``limit``
    active messages newest first, or with ``after`` the ones stored after that message oldest
    first. A join whose ``after`` names no message of its room (deleted ones count, as over REST:
    the client may resume after a message deleted since) gets its error instead."""
    found = await PageRepository(session).pages(wanted, limit)
    histories: list[History | InvalidInput] = []
    for one, rows in zip(wanted, found, strict=True):
        if one.after is None:
            histories.append(History([message_record(r) for r in rows], True, _recent(rows)))
        elif not rows or rows[0].id != one.after:
            histories.append(InvalidInput(AFTER_NOT_IN_ROOM, key=AFTER_NOT_IN_ROOM_KEY))
        else:
            page = rows[1:]
            histories.append(History([message_record(r) for r in page], len(page) < limit, _recent(page)))
    return histories


# How long a stored message's broadcast may take to reach this process, generously: a commit
# under load, then Redis.
RECENT_SECONDS = 10.0


def _recent(rows: Sequence[ChatMessage | Row[Any]]) -> list[str]:
    since = utcnow() - timedelta(seconds=RECENT_SECONDS)
    return [row.id for row in rows if row.created_at >= since]
