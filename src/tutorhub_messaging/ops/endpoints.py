"""Liveness, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tutorhub_messaging import SERVICE_NAME, __version__
from tutorhub_messaging.rest.dependencies import Context
from tutorhub_messaging.rest.responses import JsonResponse

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    return {"status": "ok", "service": SERVICE_NAME, "version": __version__}


@router.get("/ready", summary="Readiness: database, and Redis when configured")
async def ready(context: Context) -> JsonResponse:
    checks: dict[str, str] = {"database": "ok" if await context.db.ping() else "unavailable"}
    if context.redis is not None:
        try:
            await context.redis.ping()
            checks["redis"] = "ok"
        except Exception:
            checks["redis"] = "unavailable"
    ok = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
