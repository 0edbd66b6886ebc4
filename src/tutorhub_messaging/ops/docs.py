"""The API documentation pages (Swagger UI at ``/docs``, ReDoc at ``/redoc``), served with no
network: their scripts and styles come from an installed package (``fastapi-offline``), not a CDN.

Every URL on the pages is relative, so they work at ``/docs`` and at ``/messaging-api/docs`` behind
the reverse proxy alike.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from tutorhub_messaging.errors import NotFound

ASSETS = Path(str(files("fastapi_offline") / "static"))
# The files the pages reference, and nothing else from that folder.
ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "redoc.standalone.js": "text/javascript",
    "favicon.png": "image/png",
}
TITLE = "TutorHub messaging"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="openapi.json",
        title=f"{TITLE} - Swagger UI",
        swagger_js_url="docs/swagger-ui-bundle.js",
        swagger_css_url="docs/swagger-ui.css",
        swagger_favicon_url="docs/favicon.png",
        oauth2_redirect_url=None,
    )


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="openapi.json",
        title=f"{TITLE} - ReDoc",
        redoc_js_url="docs/redoc.standalone.js",
        redoc_favicon_url="docs/favicon.png",
        with_google_fonts=False,
    )


@router.get("/docs/{name}")
async def asset(name: str) -> FileResponse:
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        raise NotFound("No such documentation asset")
    return FileResponse(
        ASSETS / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )
