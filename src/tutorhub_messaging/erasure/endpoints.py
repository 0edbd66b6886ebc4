"""``DELETE /v1/m2m/users/{userId}``: the user service erases a user (M2M only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.erasure.service import erase_user
from tutorhub_messaging.idempotency.dependencies import IdempotencyKeyHeader
from tutorhub_messaging.idempotency.service import fingerprint, run_once
from tutorhub_messaging.rest.dependencies import Context, ServiceCaller
from tutorhub_messaging.rest.envelope import envelope
from tutorhub_messaging.rest.fields import PathId
from tutorhub_messaging.rest.openapi import SuccessEnvelope, error_responses
from tutorhub_messaging.rest.params import path_id
from tutorhub_messaging.rest.responses import JsonResponse

router = APIRouter(tags=["m2m sync"])


class ErasedUserRecord(BaseModel):
    id: str
    messagesErased: int
    repliesCleared: int
    conversationsClosed: int
    readStatesRemoved: int
    directoryRowRemoved: bool


class ErasedUserEnvelope(SuccessEnvelope):
    user: ErasedUserRecord


@router.delete(
    "/v1/m2m/users/{userId}",
    summary="Erase a user (M2M only)",
    description=(
        "Soft-deletes the user's messages with their content, name and avatar emptied, empties "
        "replies' quotes of them, closes their conversations, removes their read state and "
        "directory row and disconnects their sockets. Moderation records about the user are kept "
        "for audit. Idempotent: erasing again changes nothing and answers zero counts."
    ),
    response_model=ErasedUserEnvelope,
    responses=error_responses(400, 401, 403, 409),
)
async def erase_user_route(
    request: Request, context: Context, service: ServiceCaller, userId: PathId, key: IdempotencyKeyHeader
) -> Response:
    user_id = path_id(userId, "userId")

    async def work(uow: UnitOfWork) -> JsonResponse:
        erasure = await erase_user(uow, context, user_id)
        data: dict[str, Any] = erasure.record()
        return envelope(request, data_name="user", data=data, action="delete")

    return await run_once(context, service, key, fingerprint(request, user_id, None), work)
