"""``/docs`` and ``/redoc`` need no network: every asset the pages reference is served by the service."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import pytest


class References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url") and value:
                self.urls.append(value)


def referenced_urls(page: str) -> list[str]:
    parser = References()
    parser.feed(page)
    # Swagger UI's script names the OpenAPI document as ``url: '...'``.
    return [*parser.urls, *re.findall(r"url: '([^']+)'", page)]


@pytest.mark.parametrize("page", ["/docs", "/redoc", "/messaging-api/docs", "/messaging-api/redoc"])
async def test_every_asset_of_the_page_is_served_here(client: httpx.AsyncClient, page: str) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert not re.search(r"https?://", html), "the page must not load anything from another host"
    urls = referenced_urls(html)
    assert any(u.endswith(".js") for u in urls)
    assert any(u.endswith("openapi.json") for u in urls)
    base = f"http://testserver{page}"
    for url in urls:
        target = urljoin(base, url)
        assert urlsplit(target).netloc == "testserver", url
        asset = await client.get(target)
        assert asset.status_code == 200, f"{url} -> {target}: {asset.status_code}"
        assert asset.content, url


async def test_the_swagger_assets_are_the_real_swagger_ui(client: httpx.AsyncClient) -> None:
    script = await client.get("/docs/swagger-ui-bundle.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in script.text
    style = await client.get("/docs/swagger-ui.css")
    assert style.headers["content-type"].startswith("text/css")
    assert ".swagger-ui" in style.text


async def test_only_the_pages_assets_are_served(client: httpx.AsyncClient) -> None:
    for name in ("core.py", "..%2F__init__.py", "swagger-ui.js.map"):
        assert (await client.get(f"/docs/{name}")).status_code == 404
