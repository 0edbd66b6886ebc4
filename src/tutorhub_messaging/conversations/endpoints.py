"""REST routes of the conversation API (``/v1/conversations``, ``/v1/myconversations``, ...).

Each route parses, authenticates, runs one service function in one unit of work and answers the
Mindbricks envelope once that unit of work has committed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from tutorhub_messaging.conversations.enrollment_sync import sync_enrollment
from tutorhub_messaging.conversations.schemas import (
    ConversationDetailEnvelope,
    ConversationEnvelope,
    CreateConversationBody,
    EnrollmentSyncBody,
    EnrollmentSyncEnvelope,
    InboxEnvelope,
    SendSystemMessageBody,
    SystemMessageEnvelope,
)
from tutorhub_messaging.conversations.serializers import conversation_record
from tutorhub_messaging.conversations.service import create_conversation, get_conversation, list_inbox
from tutorhub_messaging.conversations.system_messages import send_system_message
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.idempotency.dependencies import IdempotencyKeyHeader
from tutorhub_messaging.idempotency.service import fingerprint, run_once
from tutorhub_messaging.rest.dependencies import Context, CurrentUser, ServiceCaller
from tutorhub_messaging.rest.envelope import envelope, paging_info
from tutorhub_messaging.rest.fields import PathId
from tutorhub_messaging.rest.openapi import error_responses
from tutorhub_messaging.rest.params import path_id
from tutorhub_messaging.rest.responses import JsonResponse

router = APIRouter(tags=["conversations"])

MAX_PAGE_ROWS = 500
# Keeps OFFSET far inside 64 bits on every database.
MAX_PAGE_NUMBER = 10_000_000


@router.post(
    "/v1/conversations",
    summary="createConversation",
    status_code=201,
    response_model=ConversationEnvelope,
    responses={
        200: {"model": ConversationEnvelope, "description": "It already existed: the stored one"},
        **error_responses(400, 401, 403, 409, 413),
    },
)
async def create_conversation_route(
    request: Request, context: Context, principal: CurrentUser, body: CreateConversationBody
) -> JsonResponse:
    async with context.db.unit_of_work() as uow:
        found = await create_conversation(uow, principal, body)
        record = conversation_record(found.conversation)
    return envelope(
        request,
        data_name="conversation",
        data=record,
        action="create",
        status_code=201 if found.created else 200,
    )


@router.get(
    "/v1/conversations/{conversationId}",
    summary="getConversation",
    response_model=ConversationDetailEnvelope,
    responses=error_responses(400, 401, 403, 404),
)
async def get_conversation_route(
    request: Request, context: Context, principal: CurrentUser, conversationId: PathId
) -> JsonResponse:
    conversation_id = path_id(conversationId, "conversationId")
    async with context.db.unit_of_work() as uow:
        record = await get_conversation(uow, principal, conversation_id, context.hub)
    return envelope(request, data_name="conversation", data=record, action="get")


@router.get(
    "/v1/myconversations",
    summary="listMyConversations",
    response_model=InboxEnvelope,
    responses=error_responses(400, 401, 403),
)
async def list_my_conversations_route(
    request: Request,
    context: Context,
    principal: CurrentUser,
    pageNumber: Annotated[int, Query(ge=0, le=MAX_PAGE_NUMBER, description="0 turns paging off")] = 1,
    pageRowCount: Annotated[int, Query(ge=1, le=MAX_PAGE_ROWS)] = 25,
) -> JsonResponse:
    paged = pageNumber != 0
    async with context.db.unit_of_work() as uow:
        inbox = await list_inbox(
            uow,
            principal,
            context.hub,
            limit=pageRowCount if paged else None,
            offset=(pageNumber - 1) * pageRowCount if paged else 0,
        )
    return envelope(
        request,
        data_name="conversations",
        data=inbox.conversations,
        action="list",
        paging=paging_info(pageNumber, pageRowCount, inbox.total),
    )


@router.post(
    "/v1/sendsystemmessage",
    summary="sendSystemMessage (M2M only)",
    status_code=201,
    response_model=SystemMessageEnvelope,
    responses=error_responses(400, 401, 403, 409, 413),
)
async def send_system_message_route(
    request: Request,
    context: Context,
    service: ServiceCaller,
    body: SendSystemMessageBody,
    key: IdempotencyKeyHeader,
) -> Response:
    async def work(uow: UnitOfWork) -> JsonResponse:
        delivered = await send_system_message(uow, context, body)
        return envelope(
            request,
            data_name="conversation",
            data=delivered.conversation,
            action="create",
            status_code=201,
            extra={"chatMessage": delivered.message},
        )

    request_fingerprint = fingerprint(request, None, body.model_dump(mode="json"))
    return await run_once(context, service, key, request_fingerprint, work)


@router.put(
    "/v1/m2m/enrollments/{enrollmentId}",
    summary="Sync an enrollment (M2M only)",
    tags=["m2m sync"],
    response_model=EnrollmentSyncEnvelope,
    responses={
        201: {"model": EnrollmentSyncEnvelope, "description": "The enrollment was not known before"},
        **error_responses(400, 401, 403, 409),
    },
)
async def sync_enrollment_route(
    request: Request,
    context: Context,
    service: ServiceCaller,
    enrollmentId: PathId,
    body: EnrollmentSyncBody,
    key: IdempotencyKeyHeader,
) -> Response:
    enrollment_id = path_id(enrollmentId, "enrollmentId")

    async def work(uow: UnitOfWork) -> JsonResponse:
        synced = await sync_enrollment(
            uow,
            enrollment_id,
            body,
            owner=context.settings.system_admin_id.lower(),
            hub_control=context.hub_control,
        )
        return envelope(
            request,
            data_name="enrollment",
            data=synced.enrollment,
            action="create" if synced.created else "update",
            status_code=201 if synced.created else 200,
            extra={"conversation": synced.conversation},
        )

    request_fingerprint = fingerprint(request, enrollment_id, body.model_dump(mode="json"))
    return await run_once(context, service, key, request_fingerprint, work)
