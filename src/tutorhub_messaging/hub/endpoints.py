"""The hub's REST routes (``/chat/{roomId}/...``): same rules and events as the socket protocol.

Bodies are ``{success: true, ...}``; errors ``{success: false, error, code}`` with the matching
HTTP status (rendered by ``rest/errors.py`` for every path under ``/chat/``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from tutorhub_messaging.hub.sending import send_to_room
from tutorhub_messaging.messages import editing, history
from tutorhub_messaging.messages.schemas import (
    HubEligibility,
    HubMessageDeleted,
    HubMessagePage,
    HubMessageSent,
    HubSendBody,
    hub_error_responses,
)
from tutorhub_messaging.messages.service import NewMessage
from tutorhub_messaging.rest.dependencies import Context, CurrentUser
from tutorhub_messaging.rest.params import path_id
from tutorhub_messaging.rest.responses import JsonResponse

router = APIRouter(tags=["chat hub"])

# Documented as UUIDs; checked by the services, so a bad one is 400 INVALID_PAYLOAD.
RoomId = Annotated[str, Path(description="the room (conversation) id", json_schema_extra={"format": "uuid"})]
MessageId = Annotated[str, Path(description="the message id", json_schema_extra={"format": "uuid"})]
Limit = Annotated[int, Query(ge=1, le=history.MAX_LIMIT, description="messages per page")]
Offset = Annotated[int, Query(ge=0, le=history.MAX_OFFSET, description="messages to skip")]
After = Annotated[
    str | None,
    Query(
        max_length=64,
        description="a message id: return the messages after it, oldest first (to fill a gap on reconnect)",
        json_schema_extra={"format": "uuid"},
    ),
]


@router.get(
    "/chat/{roomId}/messages",
    response_model=HubMessagePage,
    responses=hub_error_responses(404),
    summary="Room history: newest first, or after a message oldest first",
)
async def room_history(
    context: Context,
    principal: CurrentUser,
    roomId: RoomId,
    limit: Limit = history.DEFAULT_LIMIT,
    offset: Offset = 0,
    after: After = None,
) -> JsonResponse:
    async with context.db.unit_of_work() as uow:
        page = await history.read_room_history(
            uow.session, context.hub, principal, roomId, limit=limit, offset=offset, after=after
        )
    return JsonResponse(
        {
            "success": True,
            "data": page.records,
            "pagination": {"limit": page.limit, "offset": page.offset, "total": page.total},
        }
    )


@router.post(
    "/chat/{roomId}/messages",
    status_code=201,
    response_model=HubMessageSent,
    responses={
        200: {"model": HubMessageSent, "description": "A clientMessageId retry: the message already stored"},
        **hub_error_responses(404, 409, 413, 429),
    },
    summary="Send a message (same rules, limits and broadcast as hub:send)",
)
async def send_message(
    context: Context, principal: CurrentUser, roomId: RoomId, body: HubSendBody
) -> JsonResponse:
    reply_to = (
        body.replyTo.model_dump()
        if body.replyTo is not None and not isinstance(body.replyTo, str)
        else body.replyTo
    )
    new = NewMessage(
        message_type=body.messageType if body.messageType is not None else "text",
        content=body.data,
        reply_to=reply_to,
        client_message_id=body.clientMessageId,
    )
    async with context.db.unit_of_work() as uow:
        _, stored = await send_to_room(uow, context, principal, roomId, new, via="rest")
    return JsonResponse(
        {"success": True, "data": stored.record, "message": stored.record},
        status_code=201 if stored.created else 200,
    )


@router.delete(
    "/chat/{roomId}/messages/{messageId}",
    response_model=HubMessageDeleted,
    responses=hub_error_responses(404),
    summary="Delete a message: your own, or any with the delete_any permission",
)
async def delete_message(
    context: Context, principal: CurrentUser, roomId: RoomId, messageId: MessageId
) -> JsonResponse:
    message_id = path_id(messageId, "messageId")
    async with context.db.unit_of_work() as uow:
        record = await editing.delete_room_message(
            uow, context.notifier, context.message_rules, principal, roomId, message_id
        )
    return JsonResponse({"success": True, "messageId": record["id"]})


@router.get(
    "/chat/{roomId}/eligible",
    response_model=HubEligibility,
    responses=hub_error_responses(404),
    summary="Whether the room supports realtime chat now (its status is active)",
)
async def room_eligible(context: Context, principal: CurrentUser, roomId: RoomId) -> JsonResponse:
    async with context.db.unit_of_work() as uow:
        eligible = await history.room_eligibility(uow.session, context.hub, principal, roomId)
    return JsonResponse({"success": True, "eligible": eligible})
