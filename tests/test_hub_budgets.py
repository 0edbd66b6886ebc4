"""The hub's budgets: joins, standard events and custom events per socket and per user (count and
bytes per window), and sockets per user, each refused with RATE_LIMITED and counted in /metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import socketio

from tests.support.hub_rooms import create_room
from tests.support.sockets import HubClient, Sockets
from tests.support.users import User


def overrides(**values: int) -> Any:
    return pytest.mark.parametrize("settings_overrides", [values], indirect=True)


async def refusals(client: httpx.AsyncClient, budget: str, scope: str, measure: str) -> float:
    text = (await client.get("/metrics")).text
    line = f'messaging_hub_budget_refusals_total{{budget="{budget}",measure="{measure}",scope="{scope}"}}'
    for row in text.splitlines():
        if row.startswith(line):
            return float(row.split()[-1])
    return 0.0


async def custom(socket: HubClient, room: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    ack: dict[str, Any] = await socket.call(
        "hub:event", {"roomId": room, "event": "cursor", "data": data or {}}
    )
    return ack


@overrides(hub_custom_events_per_socket=3)
async def test_custom_events_beyond_the_socket_budget_are_refused(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    before = await refusals(client, "custom", "socket", "count")

    acks = [await custom(student_socket, room, {"i": i}) for i in range(4)]

    assert [ack["success"] for ack in acks] == [True, True, True, False]
    assert acks[3]["code"] == "RATE_LIMITED"
    assert "3 custom events per 10 s per socket" in acks[3]["error"]
    await student_socket.error("RATE_LIMITED")
    assert [(await tutor_socket.next("hub:cursor"))["i"] for _ in range(3)] == [0, 1, 2]
    assert await refusals(client, "custom", "socket", "count") == before + 1
    # Another socket of the same user has a budget of its own; standard events have theirs.
    laptop = await hub.connect(student)
    await laptop.join(room)
    assert (await custom(laptop, room, {"i": 9}))["success"] is True
    assert (await student_socket.call("hub:event", {"roomId": room, "event": "typing"}))["success"] is True
    await tutor_socket.next("hub:cursor")
    await tutor_socket.next("hub:typing")
    await student_socket.next("hub:cursor")  # the user's other device relays to this one too
    await laptop.next("hub:typing")
    await hub.quiet()


@overrides(hub_events_per_user=4)
async def test_standard_events_count_against_the_user_across_sockets(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    laptop = await hub.connect(student)
    await laptop.join(room)
    before = await refusals(client, "event", "user", "count")

    acks = []
    for socket in (student_socket, laptop, student_socket, laptop, student_socket):
        acks.append(await socket.call("hub:event", {"roomId": room, "event": "typing"}))

    assert [ack["success"] for ack in acks] == [True, True, True, True, False]
    assert "per user" in acks[4]["error"]
    await student_socket.error("RATE_LIMITED")
    assert await refusals(client, "event", "user", "count") == before + 1
    for _ in range(4):
        await tutor_socket.next("hub:typing")
    # The other participant is not affected.
    assert (await tutor_socket.call("hub:event", {"roomId": room, "event": "typing"}))["success"] is True
    for socket in (student_socket, laptop):
        for _ in range(3):  # two from the user's other socket, one from the tutor
            await socket.next("hub:typing")
    await hub.quiet()


@overrides(hub_custom_event_bytes_per_socket=2_000)
async def test_custom_event_bytes_beyond_the_socket_budget_are_refused(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    before = await refusals(client, "custom", "socket", "bytes")

    acks = [await custom(student_socket, room, {"blob": "x" * 800}) for _ in range(3)]
    small = await custom(student_socket, room, {"i": 1})

    assert [ack["success"] for ack in acks] == [True, True, False]
    assert "2000 bytes of custom events" in acks[2]["error"]
    await student_socket.error("RATE_LIMITED")
    assert small["success"] is True  # what is left of the byte budget still serves small events
    assert await refusals(client, "custom", "socket", "bytes") == before + 1
    for _ in range(3):
        await tutor_socket.next("hub:cursor")
    await hub.quiet()


@overrides(hub_joins_per_socket=3)
async def test_joins_and_leaves_beyond_the_socket_budget_are_refused(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(student)
    before = await refusals(client, "join", "socket", "count")

    await socket.join(room)
    assert (await socket.call("hub:leave", {"roomId": room}))["success"] is True
    await socket.join(room)
    refused = await socket.call("hub:leave", {"roomId": room})

    assert refused["success"] is False
    assert refused["code"] == "RATE_LIMITED"
    await socket.error("RATE_LIMITED")
    assert await refusals(client, "join", "socket", "count") == before + 1
    await hub.quiet()


@overrides(hub_sockets_per_user=2)
async def test_sockets_beyond_the_users_budget_are_refused_at_connect(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    before = await refusals(client, "sockets", "user", "count")
    first = await hub.connect(student)
    await hub.connect(student, prefixed=True)

    message = await hub.refusal(auth={"token": student.token})

    assert message == "Too many connections: at most 2 sockets per user"
    assert await refusals(client, "sockets", "user", "count") == before + 1
    await hub.connect(tutor)  # another user is not affected
    await first.disconnect()
    # Once the server has seen the disconnect, the user may connect again.
    for _ in range(100):
        try:
            await hub.connect(student)
            return
        except socketio.exceptions.ConnectionError:
            await asyncio.sleep(0.05)
    raise AssertionError("a freed socket slot was never given back")
