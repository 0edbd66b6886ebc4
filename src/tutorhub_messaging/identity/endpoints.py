"""M2M route that keeps the user directory in sync (``PUT /v1/m2m/users/{userId}``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.idempotency.dependencies import IdempotencyKeyHeader
from tutorhub_messaging.idempotency.service import fingerprint, run_once
from tutorhub_messaging.identity.user_sync import DirectoryUserEnvelope, UserSyncBody, sync_user
from tutorhub_messaging.rest.dependencies import Context, ServiceCaller
from tutorhub_messaging.rest.envelope import envelope
from tutorhub_messaging.rest.fields import PathId
from tutorhub_messaging.rest.openapi import error_responses
from tutorhub_messaging.rest.params import path_id
from tutorhub_messaging.rest.responses import JsonResponse

router = APIRouter(tags=["m2m sync"])


@router.put(
    "/v1/m2m/users/{userId}",
    summary="Sync a user into the directory (M2M only)",
    response_model=DirectoryUserEnvelope,
    responses={
        201: {"model": DirectoryUserEnvelope, "description": "The user was not known before"},
        **error_responses(400, 401, 403, 409),
    },
)
async def sync_user_route(
    request: Request,
    context: Context,
    service: ServiceCaller,
    userId: PathId,
    body: UserSyncBody,
    key: IdempotencyKeyHeader,
) -> Response:
    user_id = path_id(userId, "userId")

    async def work(uow: UnitOfWork) -> JsonResponse:
        record, created = await sync_user(uow, user_id, body)
        return envelope(
            request,
            data_name="user",
            data=record,
            action="create" if created else "update",
            status_code=201 if created else 200,
        )

    request_fingerprint = fingerprint(request, user_id, body.model_dump(mode="json"))
    return await run_once(context, service, key, request_fingerprint, work)
