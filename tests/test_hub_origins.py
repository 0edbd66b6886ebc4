"""Cross-site use of the access-token cookie: another site's page must not ride a user's cookie
into the hub (websocket or polling) or REST, while tokens passed explicitly work from anywhere."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.support.engineio import PollingSession
from tests.support.hub_rooms import create_room
from tests.support.sockets import Sockets
from tests.support.users import User

FOREIGN = "https://evil.example"
ALLOWED = "https://app.example"


def cookie(user: User) -> str:
    return f"theme=dark; tutorhub-access-token={user.token}"


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def test_a_cross_site_cookie_websocket_handshake_is_refused(hub: Sockets, student: User) -> None:
    message = await hub.refusal(headers={"Origin": FOREIGN, "Cookie": cookie(student)})

    assert message == "Authentication required"


async def test_a_cross_site_cookie_polling_handshake_is_refused_and_not_readable(
    server_url: str, student: User
) -> None:
    async with PollingSession(server_url, {"Origin": FOREIGN, "Cookie": cookie(student)}) as session:
        await session.open()
        assert session.handshake is not None
        # The browser would not even let the page read this answer with credentials.
        assert "access-control-allow-credentials" not in session.handshake.headers
        await session.post("40/hub/chat,")

        refusal = await session.until("44/hub/chat,")

    assert json.loads(refusal.split(",", 1)[1])["message"] == "Authentication required"


async def test_a_same_origin_cookie_handshake_succeeds(
    app: Any, hub: Sockets, server_url: str, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect_with(headers={"Origin": server_url, "Cookie": cookie(student)})

    joined, _ = await socket.join(room)

    assert joined["hubRole"] == "member"


async def test_a_token_handshake_succeeds_from_any_origin(
    app: Any, hub: Sockets, server_url: str, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect_with(auth={"token": student.token}, headers={"Origin": FOREIGN})
    joined, _ = await socket.join(room)
    assert joined["hubRole"] == "member"

    async with PollingSession(server_url, {"Origin": FOREIGN}) as session:
        await session.open()
        await session.post("40/hub/chat," + json.dumps({"token": tutor.token}))
        accepted = await session.until("40/hub/chat,")
    assert "sid" in json.loads(accepted.split(",", 1)[1])


@pytest.mark.parametrize("settings_overrides", [{"cors_origins": [ALLOWED]}])
async def test_an_explicitly_allowed_origin_may_use_the_cookie(
    app: Any, hub: Sockets, server_url: str, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect_with(headers={"Origin": ALLOWED, "Cookie": cookie(student)})
    joined, _ = await socket.join(room)
    assert joined["hubRole"] == "member"

    async with PollingSession(server_url, {"Origin": ALLOWED, "Cookie": cookie(tutor)}) as session:
        await session.open()
        assert session.handshake is not None
        assert session.handshake.headers["access-control-allow-origin"] == ALLOWED
        assert session.handshake.headers["access-control-allow-credentials"] == "true"


@pytest.mark.parametrize("settings_overrides", [{"cors_origins": [ALLOWED]}])
async def test_with_explicit_origins_another_origin_cannot_open_a_session(server_url: str) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(
            server_url + "/socket.io/",
            params={"EIO": "4", "transport": "polling"},
            headers={"Origin": FOREIGN},
        )

    assert response.status_code == 400


async def test_rest_ignores_a_cross_site_cookie_and_counts_it(
    client: httpx.AsyncClient, student: User
) -> None:
    before = metric((await client.get("/metrics")).text, "messaging_foreign_origin_cookies_ignored_total")

    foreign = await client.get("/v1/myconversations", headers={"Origin": FOREIGN, "Cookie": cookie(student)})
    same = await client.get(
        "/v1/myconversations", headers={"Origin": "http://testserver", "Cookie": cookie(student)}
    )
    no_browser = await client.get("/v1/myconversations", headers={"Cookie": cookie(student)})

    assert foreign.status_code == 401
    assert same.status_code == 200
    assert no_browser.status_code == 200
    after = metric((await client.get("/metrics")).text, "messaging_foreign_origin_cookies_ignored_total")
    assert after == before + 1
