"""The web client at ``/app/``: the files of its build, served as they are.

The build (``webapp/dist`` of the source tree, or ``MESSAGING_WEBAPP_DIR``) is made by
``./scripts/run`` when Node.js is installed. Without it, ``/app/`` says how to make it.
The page's responses carry a content security policy: scripts and styles only from this origin,
so nothing a message contains can run as code.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tutorhub_messaging.settings import Settings

SOURCE_TREE_BUILD = Path(__file__).resolve().parents[3] / "webapp" / "dist"
NOT_BUILT = (
    "The web client is not built. Install Node.js 20 or newer and run ./scripts/run, "
    "or run `npm ci && npm run build` in webapp/.\n"
)
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
        b"connect-src 'self' ws: wss:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class _WithSecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def web_client_dir(settings: Settings) -> Path:
    return settings.webapp_dir if settings.webapp_dir is not None else SOURCE_TREE_BUILD


def mount_web_client(app: FastAPI, settings: Settings) -> None:
    folder = web_client_dir(settings)

    @app.get("/app", include_in_schema=False)
    async def app_without_slash() -> RedirectResponse:
        # Relative, so /messaging-api/app leads to /messaging-api/app/ as well.
        return RedirectResponse("app/", status_code=308)

    if (folder / "index.html").is_file():
        app.mount("/app", _WithSecurityHeaders(StaticFiles(directory=folder, html=True)), name="app")
        return

    @app.get("/app/{path:path}", include_in_schema=False)
    async def not_built(_request: Request, path: str) -> PlainTextResponse:
        return PlainTextResponse(NOT_BUILT, status_code=404)
