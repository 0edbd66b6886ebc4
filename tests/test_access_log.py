"""One JSON access line per REST request, with no token or secret in it, and a setting to turn it off."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson
import pytest

from tests.support.users import User
from tutorhub_messaging.logs import JsonFormatter

ACCESS_LOGGER = "tutorhub_messaging.access"


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    formatter = JsonFormatter()
    return [orjson.loads(formatter.format(r)) for r in caplog.records if r.name == ACCESS_LOGGER]


async def test_each_request_is_one_line_with_its_ids_and_no_token(
    client: httpx.AsyncClient, student: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    response = await client.get(
        "/v1/myconversations",
        params={"access_token": student.token, "pageRowCount": "5", "password": "hunter2"},
        headers={"x-request-id": "req-access-1"},
    )
    assert response.status_code == 200
    [line] = access_lines(caplog)
    assert line["method"] == "GET"
    assert line["path"] == "/v1/myconversations?access_token=[redacted]&pageRowCount=5&password=[redacted]"
    assert line["status"] == 200
    assert isinstance(line["durationMs"], float) and line["durationMs"] >= 0
    assert line["requestId"] == "req-access-1"
    assert line["userId"] == student.id
    assert line["level"] == "info"
    raw = orjson.dumps(line).decode()
    assert student.token not in raw
    assert student.token.split(".")[1] not in raw
    assert "hunter2" not in raw


async def test_refused_and_unknown_requests_are_logged_too(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    await client.get("/v1/myconversations", headers={"Authorization": "Bearer not.a.token"})
    await client.get("/messaging-api/no/such/route?token=abc")
    first, second = access_lines(caplog)
    assert (first["status"], first["userId"]) == (401, None)
    assert (second["status"], second["path"]) == (404, "/no/such/route?token=[redacted]")
    assert "not.a.token" not in orjson.dumps(first).decode()


async def test_an_oversized_body_is_logged_with_its_413(
    client: httpx.AsyncClient, student: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    response = await client.post(
        "/v1/conversations", content=b"x" * 2_000_000, headers={"Authorization": f"Bearer {student.token}"}
    )
    assert response.status_code == 413
    [line] = access_lines(caplog)
    assert (line["method"], line["status"]) == ("POST", 413)


@pytest.mark.parametrize("settings_overrides", [{"access_log": False}])
async def test_the_access_log_can_be_turned_off(
    client: httpx.AsyncClient, student: User, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    response = await client.get("/v1/myconversations", headers={"Authorization": f"Bearer {student.token}"})
    assert response.status_code == 200
    assert access_lines(caplog) == []
