"""Closing and erasure across processes: a conversation closed through one process empties the
room on every process, and an erased user's sockets are disconnected wherever they are."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.conversations import EnrollmentSpec
from tests.support.processes import ServiceProcess
from tests.support.sockets import HubClient, Sockets
from tests.support.users import User, service_headers


async def sync_enrollment(url: str, spec: EnrollmentSpec, status: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        response = await http.put(
            f"/v1/m2m/enrollments/{spec.id}",
            headers=service_headers("enrollment"),
            json=spec.body(status=status),
        )
    assert response.status_code in (200, 201), response.text
    conversation: dict[str, Any] = response.json()["conversation"]
    return conversation


async def wait_disconnected(socket: HubClient) -> None:
    for _ in range(100):
        if not socket.sio.connected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the socket is still connected")


async def test_closing_through_one_process_empties_the_room_on_both(
    pair: tuple[ServiceProcess, ServiceProcess], student: User, tutor: User
) -> None:
    first, second = pair
    spec = EnrollmentSpec(student, tutor)
    room = (await sync_enrollment(first.url, spec, "active"))["id"]
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        tutor_socket = await here.connect(tutor)
        student_socket = await there.connect(student)
        await tutor_socket.join(room)
        await student_socket.join(room)
        await tutor_socket.next("hub:presence", lambda p: p["event"] == "joined")
        await tutor_socket.next("hub:online")

        closed = await sync_enrollment(first.url, spec, "completed")
        assert closed["status"] == "closed"

        for socket in (tutor_socket, student_socket):
            error = await socket.error("ROOM_NOT_ELIGIBLE")
            assert error["roomId"] == room
        left = await student_socket.next("hub:presence", lambda p: p["event"] == "left")
        assert left["user"]["id"] == tutor.id
        # Out of the room on its own process too: its sends are refused and reach nobody.
        refused = await student_socket.send(room, "anyone?")
        assert refused["success"] is False
        await student_socket.error("NOT_JOINED")
        await student_socket.emit("hub:join", {"roomId": room})
        await student_socket.error("ROOM_NOT_ELIGIBLE")

        # Reopened through the other process: both may join again, and talk across processes.
        await sync_enrollment(second.url, spec, "active")
        await student_socket.join(room)
        await tutor_socket.join(room)
        assert (await tutor_socket.send(room, "welcome back"))["success"] is True
        arrived = await student_socket.next("hub:messageArrived")
        assert arrived["message"]["content"] == {"body": "welcome back"}


async def test_an_erased_users_sockets_are_disconnected_on_every_process(
    pair: tuple[ServiceProcess, ServiceProcess], student: User, tutor: User
) -> None:
    first, second = pair
    spec = EnrollmentSpec(student, tutor)
    room = (await sync_enrollment(first.url, spec, "active"))["id"]
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        watcher = await here.connect(tutor)
        await watcher.join(room)
        on_first = await here.connect(student)
        on_second = await there.connect(student)
        await on_second.join(room)
        await watcher.next("hub:presence", lambda p: p["event"] == "joined")
        await watcher.next("hub:online")

        async with httpx.AsyncClient(base_url=first.url, timeout=10) as http:
            response = await http.delete(f"/v1/m2m/users/{student.id}", headers=service_headers("users"))
        assert response.status_code == 200, response.text
        assert response.json()["user"]["conversationsClosed"] == 1

        await watcher.error("ROOM_NOT_ELIGIBLE")
        await on_second.error("ROOM_NOT_ELIGIBLE")
        await wait_disconnected(on_first)
        await wait_disconnected(on_second)
        assert watcher.sio.connected
