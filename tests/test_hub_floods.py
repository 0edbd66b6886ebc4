"""Floods: a socket that keeps sending after being refused is told so and disconnected (counted in
/metrics) while other users' sockets keep working; and a user's connects per window are bounded, so
a client that reconnects at once after each disconnect is refused at the handshake."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import socketio

from tests.support.hub_rooms import create_room
from tests.support.sockets import HubClient, Sockets
from tests.support.users import User
from tests.test_hub_budgets import refusals
from tutorhub_messaging.hub.runtime import UserSlots


def overrides(**values: int) -> Any:
    return pytest.mark.parametrize("settings_overrides", [values], indirect=True)


async def flooding_disconnects(client: httpx.AsyncClient) -> float:
    for row in (await client.get("/metrics")).text.splitlines():
        if row.startswith("messaging_hub_flooding_sockets_disconnected_total "):
            return float(row.split()[-1])
    return 0.0


async def disconnected(socket: HubClient) -> None:
    for _ in range(100):
        if not socket.sio.connected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the flooding socket was never disconnected")


@overrides(hub_joins_per_socket=2, hub_refusals_per_socket=3)
async def test_a_socket_that_keeps_flooding_after_refusals_is_disconnected(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User, admin: User
) -> None:
    room, tutor_socket, admin_socket = await hub.joined_pair(app, tutor, admin, kind="adminTutor")
    flooder_room = await create_room(app, student, tutor)
    flooder = await hub.connect(student)
    before = await flooding_disconnects(client)

    await flooder.join(flooder_room)
    assert (await flooder.call("hub:leave", {"roomId": flooder_room}))["success"] is True
    # Three refusals are answered one by one; the fourth closes the socket.
    for _ in range(3):
        refused = await flooder.call("hub:join", {"roomId": flooder_room})
        assert refused["code"] == "RATE_LIMITED"
        assert "per socket" in refused["error"]
        await flooder.error("RATE_LIMITED")
    await flooder.emit("hub:join", {"roomId": flooder_room})
    last = await flooder.error("RATE_LIMITED")
    assert "more than 3 refused events in 10 s; disconnecting" in last["error"]
    await disconnected(flooder)

    assert await flooding_disconnects(client) == before + 1
    # Another user's sockets are untouched and keep working.
    sent = await tutor_socket.send(room, "still here")
    assert sent["success"] is True
    arrived = await admin_socket.next("hub:messageArrived")
    assert arrived["message"]["content"] == {"body": "still here"}
    await tutor_socket.next("hub:messageArrived")
    # The flooder's user may connect again (within the connect budget) and is served.
    again = await hub.connect(student)
    await again.join(flooder_room)
    await hub.quiet()


@overrides(hub_events_per_socket=1, hub_refusals_per_socket=3)
async def test_refused_typing_below_its_bound_and_other_refusals_do_not_disconnect(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    """A client that emits typing on every keypress outruns the typing budget while someone types
    fast: refused, not disconnected for it (its bound is far higher); nor for other refusals."""
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    before = await flooding_disconnects(client)

    acks = [await student_socket.call("hub:event", {"roomId": room, "event": "typing"}) for _ in range(6)]
    for _ in range(3):
        too_large = {"roomId": room, "event": "typing", "data": {"blob": "x" * 2000}}
        assert (await student_socket.call("hub:event", too_large))["success"] is False

    assert [ack["success"] for ack in acks] == [True] + [False] * 5
    assert {ack["code"] for ack in acks[1:]} == {"RATE_LIMITED"}
    assert student_socket.sio.connected
    await tutor_socket.next("hub:typing")
    assert await flooding_disconnects(client) == before
    sent = await student_socket.send(room, "still connected")
    assert sent["success"] is True


@pytest.mark.parametrize(
    "settings_overrides", [{"message_rate_per_minute": 1, "hub_refusals_per_socket": 3}], indirect=True
)
async def test_messages_refused_by_the_message_rate_do_not_disconnect_below_the_higher_bound(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    """A client sending the messages it queued while offline outruns the message rate: refused,
    not disconnected for it (they count against the higher bound, as typing does)."""
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    before = await flooding_disconnects(client)

    acks = [await student_socket.send(room, f"queued {index}") for index in range(6)]

    assert [ack["success"] for ack in acks] == [True] + [False] * 5
    assert {ack["code"] for ack in acks[1:]} == {"RATE_LIMITED"}
    assert student_socket.sio.connected
    assert await flooding_disconnects(client) == before
    arrived = await tutor_socket.next("hub:messageArrived")
    assert arrived["message"]["content"] == {"body": "queued 0"}


@overrides(hub_connects_per_user=2)
async def test_connects_beyond_the_users_budget_are_refused_at_the_handshake(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    before = await refusals(client, "connects", "user", "count")
    first = await hub.connect(student)
    await first.disconnect()
    second = await hub.connect(student)
    await second.disconnect()

    # Two connects in this window: the third is refused, though no socket of the user is open.
    message = await hub.refusal(auth={"token": student.token})

    assert message == "Too many connections: at most 2 connects per 10 s per user"
    assert await refusals(client, "connects", "user", "count") == before + 1
    await hub.connect(tutor)  # another user is not affected


async def test_events_of_one_user_run_a_few_at_a_time_and_others_do_not_wait() -> None:
    slots = UserSlots(per_user=2)
    inside: dict[str, int] = {"flooder": 0, "other": 0}
    most = {"flooder": 0, "other": 0}
    release = asyncio.Event()

    async def event(user: str) -> None:
        async with slots.taken(user):
            inside[user] += 1
            most[user] = max(most[user], inside[user])
            if user == "flooder":
                await release.wait()
            inside[user] -= 1

    flood = [asyncio.create_task(event("flooder")) for _ in range(20)]
    await asyncio.sleep(0.01)
    # The flooder's twenty events hold two slots; another user's event runs at once.
    await asyncio.wait_for(event("other"), timeout=1)
    assert inside["flooder"] == 2
    release.set()
    await asyncio.gather(*flood)
    assert most == {"flooder": 2, "other": 1}
    assert slots._slots == {}  # nothing kept for users with no event running


@overrides(hub_connect_refusals_per_address=25)
async def test_an_address_whose_connects_keep_being_refused_gets_no_new_transport(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    """An unknown namespace counts ten refusals: the third fills a bound of 25."""
    sprayer = {"X-Forwarded-For": "203.0.113.7"}
    before = await refusals(client, "handshakes", "address", "refused connects")
    for i in range(3):
        message = await hub.refusal(
            auth={"token": student.token}, namespace=f"/ns{i}/hub/chat", headers=sprayer
        )
        assert message.startswith("Unknown hub")

    # The next handshake from that address is refused before any session, even for a real hub.
    blocked = HubClient(student, "/hub/chat")
    hub.clients.append(blocked)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await blocked.sio.connect(
            hub.server_url,
            namespaces=["/hub/chat"],
            auth={"token": student.token},
            headers=sprayer,
            transports=["websocket"],
            wait_timeout=5,
        )
    await blocked.disconnect()  # closes what the refused handshake left open
    assert await refusals(client, "handshakes", "address", "refused connects") == before + 1
    # Other addresses connect as usual, the same user's included.
    other = await hub.connect_with(auth={"token": tutor.token}, headers={"X-Forwarded-For": "198.51.100.9"})
    assert other.sio.connected
    assert (await hub.connect(student)).sio.connected


@overrides(hub_events_per_socket=1, hub_standard_event_refusals_per_socket=4)
async def test_a_typing_flood_is_disconnected_past_its_own_higher_bound(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    before = await flooding_disconnects(client)

    acks = [await student_socket.call("hub:event", {"roomId": room, "event": "typing"}) for _ in range(5)]
    assert [ack["success"] for ack in acks] == [True, False, False, False, False]
    await student_socket.emit("hub:event", {"roomId": room, "event": "typing"})
    await disconnected(student_socket)

    assert await flooding_disconnects(client) == before + 1
    await tutor_socket.next("hub:typing")
    assert tutor_socket.sio.connected


@overrides(hub_connect_refusals_per_address=2)
async def test_bad_tokens_count_toward_the_address_bound(hub: Sockets, student: User) -> None:
    forger = {"X-Forwarded-For": "203.0.113.8"}
    assert await hub.refusal(auth={"token": "not-a-token"}, headers=forger) == "Invalid token"
    assert await hub.refusal(auth={}, headers=forger) == "Authentication required"

    with pytest.raises(socketio.exceptions.ConnectionError):
        await hub.connect_with(auth={"token": student.token}, headers=forger)
    assert (
        await hub.connect_with(auth={"token": student.token}, headers={"X-Forwarded-For": "198.51.100.10"})
    ).sio.connected


@overrides(hub_joins_running=1)
async def test_joins_waiting_their_turn_at_the_database_leave_the_sends_alone(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    """A reconnect storm: joins read the database a few at a time and the others wait their turn,
    while users already in their rooms keep sending."""
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    latecomer, partner = User("student"), User("tutor")
    late_room = await create_room(app, latecomer, partner)
    late_socket = await hub.connect(latecomer)
    turn = app.context.hub_control.hub.joins.turn
    await turn.acquire()  # the joins' turn at the database taken, as by a batch in flight
    try:
        joining = asyncio.create_task(late_socket.call("hub:join", {"roomId": late_room}))
        sent = await student_socket.send(room, "during the storm")
        assert sent["success"] is True
        arrived = await tutor_socket.next("hub:messageArrived")
        assert arrived["message"]["content"] == {"body": "during the storm"}
        await asyncio.sleep(0.3)
        assert not joining.done()  # still waiting its turn
    finally:
        turn.release()

    assert (await joining)["success"] is True
    joined = await late_socket.next("hub:joined")
    assert joined["roomId"] == late_room
