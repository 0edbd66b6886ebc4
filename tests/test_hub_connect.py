"""The hub handshake: namespaces, tokens and their refusals, and the connect timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests.support.hub_rooms import create_room
from tests.support.sockets import PLAIN, PREFIXED, Sockets
from tests.support.users import TEST_SECRET, User, service_token
from tutorhub_messaging.identity.tokens import mint_user_token


@pytest.mark.parametrize("namespace", [PLAIN, PREFIXED])
async def test_a_handshake_without_a_token_needs_authentication(hub: Sockets, namespace: str) -> None:
    assert await hub.refusal(namespace=namespace) == "Authentication required"
    assert await hub.refusal(auth={}, namespace=namespace) == "Authentication required"
    assert await hub.refusal(auth={"token": "   "}, namespace=namespace) == "Authentication required"


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        mint_user_token("another-key-entirely-0123456789abcdef", role="student"),
        mint_user_token(TEST_SECRET, role="student", ttl_seconds=-60),
        mint_user_token(TEST_SECRET, role="student", ttl_seconds=None),  # only superAdmin may omit exp
        service_token(),
        "x" * 20_000,
    ],
    ids=["garbage", "forged", "expired", "no-exp", "service", "huge"],
)
async def test_a_bad_token_is_an_invalid_token(hub: Sockets, token: str) -> None:
    assert await hub.refusal(auth={"token": token}) == "Invalid token"


async def test_a_token_that_is_not_a_string_is_refused(hub: Sockets) -> None:
    assert await hub.refusal(auth={"token": 12345}) == "Authentication required"


async def test_another_hub_is_refused_with_a_readable_reason(hub: Sockets, student: User) -> None:
    message = await hub.refusal(auth={"token": student.token}, namespace="/hub/lobby")
    assert message.startswith("Unknown hub")


async def test_an_overlong_namespace_is_refused(hub: Sockets, student: User) -> None:
    message = await hub.refusal(auth={"token": student.token}, namespace="/" + "x" * 300 + "/hub/chat")
    assert message.startswith("Unknown hub")


async def test_a_bearer_prefix_in_auth_token_is_accepted(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect_with(auth={"token": f"Bearer {student.token}"})

    joined, _ = await socket.join(room)

    assert joined["userInfo"]["fullname"] == student.fullname


@pytest.mark.parametrize("where", ["authorization", "header", "cookie", "query"])
async def test_the_token_may_come_from_the_http_handshake(
    app: Any, hub: Sockets, student: User, tutor: User, where: str
) -> None:
    room = await create_room(app, student, tutor)
    headers = {
        "authorization": {"Authorization": f"Bearer {student.token}"},
        "header": {"tutorhub-access-token": student.token},
        "cookie": {"Cookie": f"tutorhub-access-token={student.token}"},
        "query": {},
    }[where]
    query = f"?access_token={student.token}" if where == "query" else ""

    socket = await hub.connect_with(headers=headers, query=query)

    joined, _ = await socket.join(room)
    assert joined["hubRole"] == "member"


@pytest.mark.parametrize("namespace", ["/gateway/v2/hub/chat", "/ns1/hub/chat", "/hub/chat/", "/"])
async def test_a_namespace_outside_the_configured_set_is_refused_readably(
    hub: Sockets, student: User, namespace: str
) -> None:
    message = await hub.refusal(auth={"token": student.token}, namespace=namespace)

    assert message.startswith(f"Unknown hub: {namespace} (this service serves /hub/chat, ")


async def test_every_accepted_namespace_is_the_same_hub(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room = await create_room(app, student, tutor)
    plain = await hub.connect(tutor)
    await plain.join(room)
    doubled = await hub.connect_with(
        auth={"token": student.token}, namespace="/messaging-api/messaging-api/hub/chat"
    )
    await doubled.join(room)
    prefixed = await hub.connect(super_admin, prefixed=True)
    await prefixed.join(room)

    ack = await plain.send(room, "to every namespace")

    for socket in (plain, doubled, prefixed):
        assert (await socket.next("hub:messageArrived"))["message"]["id"] == ack["message"]["id"]


@pytest.mark.parametrize("settings_overrides", [{"hub_namespaces": ["/chat"]}])
async def test_the_accepted_namespaces_are_configurable(hub: Sockets, student: User) -> None:
    assert (await hub.connect_with(auth={"token": student.token}, namespace="/chat")).sio.connected
    assert (await hub.refusal(auth={"token": student.token})).startswith("Unknown hub: /hub/chat")


async def test_a_super_admin_token_without_expiry_connects(app: Any, hub: Sockets, super_admin: User) -> None:
    socket = await hub.connect(super_admin)
    assert socket.sio.connected


async def _engine_io_closes(server_url: str, within: float) -> bool:
    """Open a bare Engine.IO websocket that never connects to a namespace; True if the server
    closes the websocket itself (an Engine.IO CLOSE packet alone leaves a live-looking
    connection) within ``within`` seconds."""
    url = server_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        opening = await ws.receive(timeout=5)
        assert opening.type is aiohttp.WSMsgType.TEXT and opening.data.startswith("0")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (remaining := deadline - loop.time()) > 0:
            try:
                message = await ws.receive(timeout=remaining)
            except TimeoutError:
                return False
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                return True
        return False


@pytest.mark.parametrize("settings_overrides", [{"connect_timeout_ms": 200}])
async def test_a_transport_that_never_connects_to_a_namespace_is_closed(server_url: str) -> None:
    assert await _engine_io_closes(server_url, within=5.0)


async def test_a_transport_is_not_closed_before_the_connect_timeout(server_url: str) -> None:
    assert not await _engine_io_closes(server_url, within=0.3)


# Long enough that a collection pause of the test process (client and server share it) cannot
# outlast it before the namespace connect completes; short enough to wait out twice.
@pytest.mark.parametrize("settings_overrides", [{"connect_timeout_ms": 1000}])
async def test_a_socket_connected_to_the_hub_outlives_the_connect_timeout(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(student)

    await asyncio.sleep(2.0)  # twice the timeout

    assert socket.sio.connected
    await socket.join(room)
