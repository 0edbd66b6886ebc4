"""``listChatMessages`` and ``getChatMessage``: who may see which messages over ``/v1``.

Admins and superAdmins read every room. Everyone else reads only the rooms they take part in
and are not blocked from: naming another room is a 403 (the same answer whether or not it
exists), and an unfiltered list quietly covers only their own rooms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import ChatMessage
from tutorhub_messaging.errors import Forbidden, NotFound, RoomNotFound
from tutorhub_messaging.hub.definition import HubDefinition
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.messages.filters import MessageQuery
from tutorhub_messaging.messages.history import access_room_history
from tutorhub_messaging.messages.repository import MessageRepository, MessageSearch
from tutorhub_messaging.messages.serializers import message_record

DEFAULT_PAGE_ROW_COUNT = 25
MAX_PAGE_ROW_COUNT = 500
MAX_PAGE_NUMBER = 1_000_000
# pageNumber=0 turns paging off; the newest this many rows are then returned.
MAX_UNPAGED_ROWS = 1000


@dataclass(frozen=True, slots=True)
class MessageList:
    records: list[dict[str, Any]]
    paging: dict[str, int]


async def _check_reads_room(
    session: AsyncSession, hub: HubDefinition, principal: Principal, room_id: str, refusal: str
) -> None:
    try:
        await access_room_history(session, hub, principal, room_id)
    except Forbidden as exc:
        if exc.code != Forbidden.code:
            raise  # BLOCKED: only a participant gets here, and may know why
        raise Forbidden(refusal) from None


async def check_may_read_room(
    session: AsyncSession, hub: HubDefinition, principal: Principal, room_id: str
) -> None:
    if principal.is_admin:
        return
    refusal = "You cannot read the messages of this room"
    try:
        await _check_reads_room(session, hub, principal, room_id, refusal)
    except RoomNotFound:
        # A missing room answers like someone else's, so ids cannot be probed.
        raise Forbidden(refusal) from None


async def list_chat_messages(
    session: AsyncSession,
    hub: HubDefinition,
    principal: Principal,
    query: MessageQuery,
    *,
    page_number: int,
    page_row_count: int,
) -> MessageList:
    """Newest first. ``page_number`` 0 turns paging off (at most ``MAX_UNPAGED_ROWS`` rows)."""
    for room_id in query.room_ids:
        await check_may_read_room(session, hub, principal, room_id)
    reader_id = None if principal.is_admin else principal.user_id
    search = MessageSearch(session)
    total = await search.count(query, reader_id=reader_id)
    if page_number == 0:
        rows = await _page(search, query, reader_id, total, limit=MAX_UNPAGED_ROWS, offset=0)
        paging = {"pageNumber": 0, "pageRowCount": len(rows), "totalRowCount": total, "pageCount": 1}
    else:
        offset = (page_number - 1) * page_row_count
        rows = await _page(search, query, reader_id, total, limit=page_row_count, offset=offset)
        page_count = -(-total // page_row_count)
        paging = {
            "pageNumber": page_number,
            "pageRowCount": page_row_count,
            "totalRowCount": total,
            "pageCount": page_count,
        }
    return MessageList([message_record(row) for row in rows], paging)


async def _page(
    search: MessageSearch, query: MessageQuery, reader_id: str | None, total: int, *, limit: int, offset: int
) -> list[ChatMessage]:
    """The page's rows. When the count leaves none for the page, the database is not asked again:
    a search that matches nothing then scans its candidate rows once instead of twice."""
    if offset >= total:
        return []
    return await search.page(query, reader_id=reader_id, limit=limit, offset=offset)


async def check_may_read_message(
    session: AsyncSession, hub: HubDefinition, principal: Principal, message: ChatMessage
) -> None:
    """Participants of the message's room (not blocked there), admins and superAdmins."""
    if principal.is_admin:
        return
    try:
        await _check_reads_room(session, hub, principal, message.room_id, "You cannot read this message")
    except RoomNotFound:
        # The room itself was deleted: its messages are gone with it.
        raise NotFound("Message not found", key="errMsg_chatMessageNotFound") from None


async def get_chat_message(
    session: AsyncSession, hub: HubDefinition, principal: Principal, message_id: str
) -> dict[str, Any]:
    message = await MessageRepository(session).get_active(message_id)
    if message is None:
        raise NotFound("Message not found", key="errMsg_chatMessageNotFound")
    await check_may_read_message(session, hub, principal, message)
    return message_record(message)
