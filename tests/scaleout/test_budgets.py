"""The hub's per-user budgets hold across processes sharing Redis."""

from __future__ import annotations

from typing import Any

from tests.scaleout.conftest import ProcessFactory, start_two
from tests.support.hub_rooms import create_room
from tests.support.sockets import Sockets
from tests.support.users import User


async def test_a_users_event_budget_counts_events_on_every_process(
    app: Any, processes: ProcessFactory, student: User, tutor: User
) -> None:
    first, second = await start_two(processes, MESSAGING_HUB_EVENTS_PER_USER=3)
    room = await create_room(app, student, tutor)
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        on_first = await here.connect(student)
        on_second = await there.connect(student)
        await on_first.join(room)
        await on_second.join(room)
        typing = {"roomId": room, "event": "typing"}
        acks = [await (on_first if index % 2 else on_second).call("hub:event", typing) for index in range(4)]
        assert [ack["success"] for ack in acks] == [True, True, True, False]
        assert acks[3]["code"] == "RATE_LIMITED"
        await on_first.error("RATE_LIMITED")


async def test_a_users_socket_budget_counts_sockets_on_every_process(
    processes: ProcessFactory, student: User, tutor: User
) -> None:
    first, second = await start_two(processes, MESSAGING_HUB_SOCKETS_PER_USER=1)
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        await here.connect(student)
        refused = await there.refusal(auth={"token": student.token})
        assert refused == "Too many connections: at most 1 sockets per user"
        await there.connect(tutor)
