"""M2M routes over webhook deliveries: list them (``?status=dead`` for the dead letters) and replay
a dead one."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from tutorhub_messaging.outbox.deliveries import (
    check_delivery_id,
    check_status,
    list_deliveries,
    replay_delivery,
)
from tutorhub_messaging.outbox.repository import DELIVERY_STATUSES
from tutorhub_messaging.rest.dependencies import Context, ServiceCaller
from tutorhub_messaging.rest.envelope import envelope, paging_info
from tutorhub_messaging.rest.openapi import ListEnvelope, SuccessEnvelope, error_responses
from tutorhub_messaging.rest.responses import JsonResponse

router = APIRouter(tags=["m2m webhooks"])

MAX_PAGE_ROWS = 500
MAX_PAGE_NUMBER = 1_000_000


class WebhookDeliveryRecord(BaseModel):
    id: int
    eventId: str
    eventType: str
    endpoint: str
    roomId: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    lastStatus: int | None
    lastError: str | None
    nextAttemptAt: str | None
    createdAt: str
    updatedAt: str


class WebhookDeliveryListEnvelope(ListEnvelope):
    webhookDeliveries: list[WebhookDeliveryRecord]


class WebhookDeliveryEnvelope(SuccessEnvelope):
    webhookDelivery: WebhookDeliveryRecord


@router.get(
    "/v1/m2m/webhook-deliveries",
    summary="List webhook deliveries, newest first (M2M only)",
    response_model=WebhookDeliveryListEnvelope,
    responses=error_responses(400, 401, 403),
)
async def list_webhook_deliveries_route(
    request: Request,
    context: Context,
    _service: ServiceCaller,
    status: Annotated[
        str | None,
        # Documented only: ``check_status`` refuses other values with the service's own message.
        Query(description="pending, delivered or dead", json_schema_extra={"enum": list(DELIVERY_STATUSES)}),
    ] = None,
    pageNumber: Annotated[int, Query(ge=1, le=MAX_PAGE_NUMBER)] = 1,
    pageRowCount: Annotated[int, Query(ge=1, le=MAX_PAGE_ROWS)] = 100,
) -> JsonResponse:
    wanted = check_status(status)
    async with context.db.unit_of_work() as uow:
        page = await list_deliveries(
            uow, status=wanted, limit=pageRowCount, offset=(pageNumber - 1) * pageRowCount
        )
    return envelope(
        request,
        data_name="webhookDeliveries",
        data=page.deliveries,
        action="list",
        paging=paging_info(pageNumber, pageRowCount, page.total),
    )


@router.post(
    "/v1/m2m/webhook-deliveries/{deliveryId}/replay",
    summary="Replay a dead webhook delivery (M2M only)",
    response_model=WebhookDeliveryEnvelope,
    responses=error_responses(400, 401, 403, 404, 409),
)
async def replay_webhook_delivery_route(
    request: Request,
    context: Context,
    _service: ServiceCaller,
    deliveryId: Annotated[str, Path(max_length=20)],
) -> JsonResponse:
    delivery_id = check_delivery_id(deliveryId)
    async with context.db.unit_of_work() as uow:
        record: dict[str, Any] = await replay_delivery(uow, context.outbox, delivery_id)
    return envelope(request, data_name="webhookDelivery", data=record, action="update")
