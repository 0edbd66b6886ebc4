"""A conversation closed while sockets are in it: each socket gets hub:error ROOM_NOT_ELIGIBLE and
leaves the room (the others see it leave); reopening lets them join again."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.conversations import EnrollmentSpec, open_student_tutor, put_enrollment
from tests.support.hub_rooms import create_room
from tests.support.sockets import Sockets
from tests.support.users import User


def closed_error(room: str) -> Any:
    return lambda payload: payload.get("roomId") == room


async def test_ending_the_enrollment_removes_every_socket_from_the_room(
    client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    room = (await open_student_tutor(client, spec))["id"]
    tutor_socket = await hub.connect(tutor)
    student_socket = await hub.connect(student)
    second_student_socket = await hub.connect(student, prefixed=True)
    await tutor_socket.join(room)
    await student_socket.join(room)
    await second_student_socket.join(room)
    await tutor_socket.next("hub:presence", lambda p: p["event"] == "joined")
    await tutor_socket.next("hub:online")

    response = await put_enrollment(client, spec, status="completed")
    assert response.status_code == 200
    assert response.json()["conversation"]["status"] == "closed"

    for socket in (tutor_socket, student_socket, second_student_socket):
        error = await socket.error("ROOM_NOT_ELIGIBLE")
        assert error["roomId"] == room
    # The tutor was in the room first and left it first: the student's sockets saw it go.
    for socket in (student_socket, second_student_socket):
        left = await socket.next("hub:presence", lambda p: p["event"] == "left")
        assert left == {"event": "left", "roomId": room, "user": left["user"]}
        assert left["user"]["id"] == tutor.id
    # Out of the room: a send is refused and reaches nobody.
    refused = await student_socket.send(room, "anyone?")
    assert refused["success"] is False
    await student_socket.error("NOT_JOINED")
    await hub.quiet()


async def test_a_closed_room_refuses_joins_and_reopening_lets_them_join_again(
    client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    room = (await open_student_tutor(client, spec))["id"]
    socket = await hub.connect(student)
    await socket.join(room)
    await put_enrollment(client, spec, status="cancelled")
    await socket.error("ROOM_NOT_ELIGIBLE")

    await socket.emit("hub:join", {"roomId": room})
    await socket.error("ROOM_NOT_ELIGIBLE")

    reopened = await put_enrollment(client, spec, status="active")
    assert reopened.json()["conversation"]["status"] == "active"
    joined, _ = await socket.join(room)
    assert joined["roomId"] == room
    assert (await socket.send(room, "back again"))["success"] is True
    await socket.next("hub:messageArrived")
    await hub.quiet()


async def test_closing_tells_only_the_sockets_in_that_room(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    room = (await open_student_tutor(client, spec))["id"]
    other_tutor = User("tutor")
    other_room = await create_room(app, student, other_tutor)
    in_room = await hub.connect(student)
    await in_room.join(room)
    elsewhere = await hub.connect(student)
    await elsewhere.join(other_room)
    not_joined = await hub.connect(tutor)
    other = await hub.connect(other_tutor)
    await other.join(other_room)
    await elsewhere.next("hub:presence")
    await elsewhere.next("hub:online")

    await put_enrollment(client, spec, status="completed")
    await in_room.error("ROOM_NOT_ELIGIBLE")
    # The other room carries on.
    assert (await elsewhere.send(other_room, "still open"))["success"] is True
    for socket in (elsewhere, other):
        await socket.next("hub:messageArrived")
    assert not_joined.pending() == []
    await hub.quiet()


async def test_a_sync_that_changes_nothing_tells_nobody(
    client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    room = (await open_student_tutor(client, spec))["id"]
    socket = await hub.connect(student)
    await socket.join(room)
    await put_enrollment(client, spec, status="active", courseTitle="Renamed")
    await hub.quiet()
