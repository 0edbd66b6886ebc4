"""The Mindbricks success envelope of the REST guide (``/v1/...`` routes)."""

from __future__ import annotations

import time
from math import ceil
from typing import Any, Literal

from fastapi import Request

from tutorhub_messaging.rest.responses import JsonResponse

Action = Literal["create", "get", "list", "update", "delete"]


def _caller_ids(request: Request) -> tuple[str | None, str | None]:
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return None, None
    return principal.user_id, principal.session_id


def envelope(
    request: Request,
    *,
    data_name: str,
    data: Any,
    action: Action,
    status_code: int = 200,
    paging: dict[str, int] | None = None,
    extra: dict[str, Any] | None = None,
) -> JsonResponse:
    started = getattr(request.state, "started", None)
    elapsed_ms = int((time.perf_counter() - started) * 1000) if started else 0
    user_id, session_id = _caller_ids(request)
    body: dict[str, Any] = {
        "status": "OK",
        "statusCode": status_code,
        "elapsedMs": elapsed_ms,
        "ssoTime": 0,
        "source": "db",
        "cacheKey": None,
        "userId": user_id,
        "sessionId": session_id,
        "requestId": getattr(request.state, "request_id", None),
        "dataName": data_name,
        "method": request.method,
        "action": action,
        "appVersion": request.app.state.context.settings.app_version,
        "rowCount": len(data) if isinstance(data, list) else (0 if data is None else 1),
        data_name: data,
    }
    if paging is not None:
        body["paging"] = paging
        body["filters"] = []
        body["uiPermissions"] = []
    if extra:
        body.update(extra)
    return JsonResponse(body, status_code=status_code)


def paging_info(page_number: int, page_row_count: int, total: int) -> dict[str, int]:
    if page_number == 0:  # paging off: one page with everything
        return {"pageNumber": 0, "pageRowCount": total, "totalRowCount": total, "pageCount": 1}
    return {
        "pageNumber": page_number,
        "pageRowCount": page_row_count,
        "totalRowCount": total,
        "pageCount": ceil(total / page_row_count) if total else 0,
    }
