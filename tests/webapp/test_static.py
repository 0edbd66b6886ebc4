"""The web client's build served at /app/ (and /messaging-api/app/), with its security headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tutorhub_messaging.rest.webapp import NOT_BUILT


@pytest.fixture
def settings_overrides(tmp_path: Path) -> dict[str, Any]:
    folder = tmp_path / "dist"
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>client</title>")
    (folder / "assets" / "app.js").write_text("console.log('client')")
    return {"webapp_dir": folder}


async def test_the_client_is_served_at_app_with_and_without_the_prefix(client: httpx.AsyncClient) -> None:
    for prefix in ("", "/messaging-api"):
        page = await client.get(f"{prefix}/app/")
        assert page.status_code == 200
        assert "<title>client</title>" in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self' ws: wss:" in policy
        assert page.headers["x-content-type-options"] == "nosniff"
        script = await client.get(f"{prefix}/app/assets/app.js")
        assert script.status_code == 200
        redirect = await client.get(f"{prefix}/app")
        assert redirect.status_code == 308
        assert redirect.headers["location"] == "app/"
    assert (await client.get("/app/missing.js")).status_code == 404


@pytest.mark.parametrize("settings_overrides", [{"webapp_dir": "/nonexistent/webapp-build"}])
async def test_without_a_build_app_says_how_to_make_one(client: httpx.AsyncClient) -> None:
    response = await client.get("/app/")
    assert response.status_code == 404
    assert response.text == NOT_BUILT
    assert (await client.get("/health")).status_code == 200
