"""Rendering errors for the two REST surfaces, in one place.

``/v1/...`` routes answer the Mindbricks error envelope; the hub's ``/chat/...`` routes answer
``{success: false, error, code}``. Nothing internal (types, tracebacks, SQL) reaches a body.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from tutorhub_messaging.errors import AppError, InvalidInput, RateLimited
from tutorhub_messaging.ops.metrics import HTTP_ERRORS
from tutorhub_messaging.rest.responses import JsonResponse

log = logging.getLogger(__name__)

HUB_ROUTE_PREFIX = "/chat/"
STATUS_KEYS = {
    400: "errMsg_invalidInput",
    401: "errMsg_loginRequired",
    403: "errMsg_forbidden",
    404: "errMsg_notFound",
    405: "errMsg_methodNotAllowed",
    409: "errMsg_conflict",
    413: "errMsg_payloadTooLarge",
    415: "errMsg_unsupportedMediaType",
    429: "errMsg_rateLimited",
    500: "errMsg_internalServerError",
    503: "errMsg_serviceUnavailable",
}
HUB_CODES_BY_STATUS = {
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "MESSAGE_TOO_LARGE",
}


def render_error(request: Request, error: AppError) -> JsonResponse:
    HTTP_ERRORS.labels(status=str(error.status), code=error.code).inc()
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    if isinstance(error, RateLimited) and error.retry_after is not None:
        headers = {"Retry-After": str(error.retry_after)}
    if request.url.path.startswith(HUB_ROUTE_PREFIX):
        body: dict[str, Any] = {"success": False, "error": error.message, "code": error.code}
    else:
        body = {
            "result": "ERR",
            "status": error.status,
            "message": error.key,
            "errCode": error.status,
            "date": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "detail": error.message,
        }
    return JsonResponse(body, status_code=error.status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) if parts else "body"


def validation_error(exc: RequestValidationError) -> InvalidInput:
    """The first problem of a request, as one clear 400."""
    errors = exc.errors()
    if not errors:
        return InvalidInput()
    first = errors[0]
    kind = first.get("type", "")
    name = _field_name(tuple(first.get("loc", ())))
    leaf = name.rsplit(".", 1)[-1]
    if kind == "json_invalid":
        return InvalidInput("The request body is not valid JSON", key="errMsg_invalidJson")
    if kind == "missing":
        return InvalidInput(f"{name} is required", key=f"errMsg_{leaf}isRequired")
    if kind == "invalid_id":
        return InvalidInput(f"{name} must be a valid UUID", key=f"errMsg_{leaf}isNotAValidID")
    if name == "body":
        return InvalidInput("The request body must be a JSON object", key="errMsg_invalidBody")
    return InvalidInput(f"{name}: {first.get('msg', 'invalid value')}", key=f"errMsg_{leaf}isNotValid")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JsonResponse:
        return render_error(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JsonResponse:
        return render_error(request, validation_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JsonResponse:
        error = AppError(str(exc.detail) if exc.detail else None, key=STATUS_KEYS.get(exc.status_code))
        error.status = exc.status_code
        error.code = HUB_CODES_BY_STATUS.get(exc.status_code, "INVALID_PAYLOAD")
        response = render_error(request, error)
        if exc.headers:  # e.g. the Allow header of a 405
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JsonResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return render_error(request, AppError())
