"""REST routes of the chatMessage API (``/v1/v1/chat-messages`` and its ``/v1/chat-messages`` alias).

Each route parses, authenticates and calls one service function; answers use the Mindbricks
envelope, errors the error envelope (``rest/errors.py``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from tutorhub_messaging.messages import editing, listing
from tutorhub_messaging.messages.filters import FilterLimits, message_query
from tutorhub_messaging.messages.schemas import (
    ChatMessageEnvelope,
    ChatMessageListEnvelope,
    ChatMessageUpdate,
)
from tutorhub_messaging.rest.dependencies import Context, CurrentUser
from tutorhub_messaging.rest.envelope import envelope
from tutorhub_messaging.rest.openapi import error_responses
from tutorhub_messaging.rest.params import path_id
from tutorhub_messaging.rest.responses import JsonResponse

router = APIRouter(tags=["chat messages"])

GUIDE_PATH = "/v1/v1/chat-messages"  # the REST guide's route (sic)
ALIAS_PATH = "/v1/chat-messages"

# Documented as a UUID; checked by ``path_id`` so a bad one gets ``errMsg_idisNotAValidID``.
MessageIdParam = Annotated[
    str, Path(alias="id", description="the chatMessage id", json_schema_extra={"format": "uuid"})
]


def _filter(description: str) -> object:
    return Query(
        description=f"{description}. Repeat for any of several values; `null` matches a missing value.",
    )


RoomIdFilter = Annotated[list[str] | None, _filter("Room (conversation) id, exact")]
SenderIdFilter = Annotated[list[str] | None, _filter("Sender user id, exact")]
SenderNameFilter = Annotated[list[str] | None, _filter("Sender name, case-insensitive partial match")]
SenderAvatarFilter = Annotated[list[str] | None, _filter("Sender avatar URL, case-insensitive partial match")]
MessageTypeFilter = Annotated[
    list[str] | None, _filter("text, image, document, system or warning (case-insensitive)")
]
ContentFilter = Annotated[list[str] | None, _filter("Case-insensitive text found in the content's JSON")]
TimestampFilter = Annotated[
    list[str] | None,
    _filter("Case-insensitive partial match on the ISO time, e.g. 2026-11-22 for that day (UTC)"),
]
StatusFilter = Annotated[list[str] | None, _filter("pending, approved or rejected (case-insensitive)")]
ReplyToFilter = Annotated[
    list[str] | None, _filter("Case-insensitive text found in replyTo's JSON, e.g. an id")
]
PageNumber = Annotated[
    int,
    Query(ge=0, le=listing.MAX_PAGE_NUMBER, description="1-based page; 0 turns paging off (newest 1000)"),
]
PageRowCount = Annotated[int, Query(ge=1, le=listing.MAX_PAGE_ROW_COUNT, description="rows per page")]


@router.get(
    GUIDE_PATH,
    response_model=ChatMessageListEnvelope,
    responses=error_responses(400, 401, 403),
    summary="listChatMessages: messages of the rooms the caller may read, newest first",
)
@router.get(
    ALIAS_PATH,
    response_model=ChatMessageListEnvelope,
    responses=error_responses(400, 401, 403),
    summary="listChatMessages (alias)",
)
async def list_chat_messages(
    request: Request,
    context: Context,
    principal: CurrentUser,
    roomId: RoomIdFilter = None,
    senderId: SenderIdFilter = None,
    senderName: SenderNameFilter = None,
    senderAvatar: SenderAvatarFilter = None,
    messageType: MessageTypeFilter = None,
    content: ContentFilter = None,
    timestamp: TimestampFilter = None,
    status: StatusFilter = None,
    replyTo: ReplyToFilter = None,
    pageNumber: PageNumber = 1,
    pageRowCount: PageRowCount = listing.DEFAULT_PAGE_ROW_COUNT,
) -> JsonResponse:
    query = message_query(
        room_id=roomId,
        sender_id=senderId,
        sender_name=senderName,
        sender_avatar=senderAvatar,
        message_type=messageType,
        content=content,
        timestamp=timestamp,
        status=status,
        reply_to=replyTo,
        limits=FilterLimits(
            values_per_filter=context.settings.search_max_values_per_filter,
            values=context.settings.search_max_values,
            value_length=context.settings.search_max_value_length,
        ),
    )
    async with context.db.search(principal.user_id) as uow:
        found = await listing.list_chat_messages(
            uow.session, context.hub, principal, query, page_number=pageNumber, page_row_count=pageRowCount
        )
    return envelope(request, data_name="chatMessages", data=found.records, action="list", paging=found.paging)


@router.get(
    GUIDE_PATH + "/{id}",
    response_model=ChatMessageEnvelope,
    responses=error_responses(400, 401, 403, 404),
    summary="getChatMessage: one message (room participants and admins)",
)
@router.get(
    ALIAS_PATH + "/{id}",
    response_model=ChatMessageEnvelope,
    responses=error_responses(400, 401, 403, 404),
    summary="getChatMessage (alias)",
)
async def get_chat_message(
    request: Request, context: Context, principal: CurrentUser, message_id: MessageIdParam
) -> JsonResponse:
    checked_id = path_id(message_id, "id")
    async with context.db.unit_of_work() as uow:
        record = await listing.get_chat_message(uow.session, context.hub, principal, checked_id)
    return envelope(request, data_name="chatMessage", data=record, action="get")


@router.patch(
    GUIDE_PATH + "/{id}",
    response_model=ChatMessageEnvelope,
    responses=error_responses(400, 401, 403, 404, 413),
    summary="updateChatMessage: edit content (sender or admin) or status (admin)",
)
@router.patch(
    ALIAS_PATH + "/{id}",
    response_model=ChatMessageEnvelope,
    responses=error_responses(400, 401, 403, 404, 413),
    summary="updateChatMessage (alias)",
)
async def update_chat_message(
    request: Request,
    context: Context,
    principal: CurrentUser,
    message_id: MessageIdParam,
    body: ChatMessageUpdate,
) -> JsonResponse:
    checked_id = path_id(message_id, "id")
    async with context.db.unit_of_work() as uow:
        record = await editing.update_chat_message(
            uow,
            context.notifier,
            context.message_rules,
            principal,
            checked_id,
            content=body.content,
            status=body.status,
        )
    return envelope(request, data_name="chatMessage", data=record, action="update")


@router.delete(
    GUIDE_PATH + "/{id}",
    response_model=ChatMessageEnvelope,
    responses=error_responses(400, 401, 403, 404),
    summary="deleteChatMessage: soft delete (sender or admin)",
)
@router.delete(
    ALIAS_PATH + "/{id}",
    response_model=ChatMessageEnvelope,
    responses=error_responses(400, 401, 403, 404),
    summary="deleteChatMessage (alias)",
)
async def delete_chat_message(
    request: Request, context: Context, principal: CurrentUser, message_id: MessageIdParam
) -> JsonResponse:
    checked_id = path_id(message_id, "id")
    async with context.db.unit_of_work() as uow:
        record = await editing.delete_chat_message(
            uow, context.notifier, context.message_rules, principal, checked_id
        )
    return envelope(request, data_name="chatMessage", data=record, action="delete")
