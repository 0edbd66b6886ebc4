"""ASGI middleware for every HTTP request: request id, timing and access log, body size limit,
path prefix."""

from __future__ import annotations

import logging
import re
import time
import uuid
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutorhub_messaging.logs import request_id_var, user_id_var
from tutorhub_messaging.ops.metrics import REQUEST_LATENCY

URL_PREFIX = "/messaging-api"
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# A query parameter whose name holds one of these never reaches a log line with its value.
SECRET_PARAM_RE = re.compile(r"token|secret|password|passwd|auth|key|session|cookie", re.IGNORECASE)
MAX_LOGGED_PATH = 2048

access_log = logging.getLogger("tutorhub_messaging.access")


def loggable_path(path: str, query_string: bytes) -> str:
    """The path and query as an access log line shows them: secret parameters' values removed."""
    if not query_string:
        return path[:MAX_LOGGED_PATH]
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    query = urlencode(
        [(name, "[redacted]" if SECRET_PARAM_RE.search(name) else value) for name, value in pairs],
        safe="[]",
    )
    return f"{path}?{query}"[:MAX_LOGGED_PATH] if query else path[:MAX_LOGGED_PATH]


class PrefixStrip:
    """Serve every route both at ``/...`` and at ``/messaging-api/...`` (REST and Socket.IO)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if path == URL_PREFIX or path.startswith(URL_PREFIX + "/"):
                scope = dict(scope)
                scope["path"] = path[len(URL_PREFIX) :] or "/"
                raw = scope.get("raw_path")
                if isinstance(raw, bytes) and raw.startswith(URL_PREFIX.encode()):
                    scope["raw_path"] = raw[len(URL_PREFIX) :] or b"/"
        await self.app(scope, receive, send)


class RequestContext:
    """Request id (echo of ``x-request-id`` or a new one), timing, the access log line, and the
    body size limit."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, *, log_access: bool = True) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.log_access = log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if REQUEST_ID_RE.match(given) else str(uuid.uuid4())
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["started"] = time.perf_counter()
        request_id_var.set(request_id)
        user_id_var.set(None)

        started = time.perf_counter()
        status = 500  # what the server answers if the application fails before it responds

        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await self._too_large(scope, send, request_id)
            self._log(scope, 413, started)
            return

        received = 0

        async def limited_receive() -> Message:
            # A chunked body without Content-Length is counted as it arrives; the route's body
            # parsing turns this exception into the usual 413 error body.
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise StarletteHTTPException(413, "The request body is too large")
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        finally:
            REQUEST_LATENCY.labels(method=scope.get("method", "")).observe(time.perf_counter() - started)
            self._log(scope, status, started)

    def _log(self, scope: Scope, status: int, started: float) -> None:
        if not self.log_access or not access_log.isEnabledFor(logging.INFO):
            return
        method = scope.get("method", "")
        path = loggable_path(scope.get("path", ""), scope.get("query_string", b""))
        state = scope.get("state", {})
        user_id = getattr(state.get("principal"), "user_id", None)
        access_log.info(
            "%s %s %s",
            method,
            path,
            status,
            extra={
                "method": method,
                "path": path,
                "status": status,
                "durationMs": round((time.perf_counter() - started) * 1000, 3),
                "requestId": state.get("request_id"),
                "userId": user_id,
            },
        )

    async def _too_large(self, scope: Scope, send: Send, request_id: str) -> None:
        path: str = scope.get("path", "")
        if path.startswith("/chat/"):
            body = {"success": False, "error": "Request body too large", "code": "MESSAGE_TOO_LARGE"}
        else:
            body = {
                "result": "ERR",
                "status": 413,
                "message": "errMsg_payloadTooLarge",
                "errCode": 413,
                "date": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                "detail": f"The request body is larger than {self.max_body_bytes} bytes",
            }
        payload = orjson.dumps(body)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
