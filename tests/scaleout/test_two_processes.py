"""Several processes serving one hub through Redis: broadcasts, guardrails, rate limits,
moderation and presence hold across them exactly as in one process."""

from __future__ import annotations

from typing import Any

import httpx

from tests.scaleout.conftest import ProcessFactory, start_two
from tests.support.hub_rooms import create_room
from tests.support.processes import ServiceProcess
from tests.support.sockets import Sockets
from tests.support.users import User


async def test_a_message_sent_on_one_process_reaches_a_socket_on_the_other(
    app: Any, pair: tuple[ServiceProcess, ServiceProcess], student: User, tutor: User
) -> None:
    first, second = pair
    room = await create_room(app, student, tutor)
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        sender = await here.connect(student)
        # Polling works against each process (a sticky balancer keeps a session on one process).
        receiver = await there.connect(tutor, prefixed=True, transport="polling")
        await receiver.join(room)
        await sender.join(room)
        await receiver.next("hub:presence", lambda p: p["user"]["id"] == student.id)
        await receiver.next("hub:online")
        ack = await sender.send(room, "across processes")
        assert ack["success"] is True
        arrived = await receiver.next("hub:messageArrived")
        assert arrived["message"]["id"] == ack["message"]["id"]
        assert arrived["sender"]["id"] == student.id
        own = await sender.next("hub:messageArrived")
        assert own["message"]["id"] == ack["message"]["id"]


async def test_room_full_holds_across_processes(
    app: Any, processes: ProcessFactory, student: User, tutor: User, super_admin: User
) -> None:
    first, second = await start_two(processes, MESSAGING_MAX_USERS_PER_ROOM=2)
    room = await create_room(app, student, tutor)
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        await (await here.connect(student)).join(room)
        await (await there.connect(tutor)).join(room)
        third = await here.connect(super_admin)
        await third.emit("hub:join", {"roomId": room})
        error = await third.error("ROOM_FULL")
        assert error["roomId"] == room


async def test_rooms_per_user_holds_across_processes(
    app: Any, processes: ProcessFactory, student: User, tutor: User
) -> None:
    first, second = await start_two(processes, MESSAGING_MAX_ROOMS_PER_USER=1)
    room_one = await create_room(app, student, tutor)
    room_two = await create_room(app, student, User("tutor"))
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        await (await here.connect(student)).join(room_one)
        elsewhere = await there.connect(student)
        await elsewhere.emit("hub:join", {"roomId": room_two})
        await elsewhere.error("ROOM_LIMIT")


async def test_the_message_rate_limit_counts_sends_on_every_process(
    app: Any, processes: ProcessFactory, student: User, tutor: User
) -> None:
    first, second = await start_two(processes, MESSAGING_MESSAGE_RATE_PER_MINUTE=3)
    room = await create_room(app, student, tutor)
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        on_first = await here.connect(student)
        on_second = await there.connect(student)
        await on_first.join(room)
        await on_second.join(room)
        assert (await on_first.send(room, "1"))["success"] is True
        assert (await on_second.send(room, "2"))["success"] is True
        assert (await on_first.send(room, "3"))["success"] is True
        refused = await on_second.send(room, "4")
        assert refused["success"] is False
        await on_second.error("RATE_LIMITED")


async def test_a_block_on_one_process_removes_the_target_socket_on_the_other(
    app: Any, pair: tuple[ServiceProcess, ServiceProcess], student: User, tutor: User, super_admin: User
) -> None:
    first, second = pair
    room = await create_room(app, student, tutor)
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        watcher = await here.connect(tutor)
        await watcher.join(room)
        target = await there.connect(student)
        await target.join(room)
        await watcher.next("hub:presence", lambda p: p["event"] == "joined")
        moderator = await here.connect(super_admin)
        ack = await moderator.call("hub:block", {"roomId": room, "userId": student.id, "reason": "spam"})
        assert ack["success"] is True
        blocked = await target.next("hub:blocked")
        assert blocked == {"roomId": room, "reason": "spam"}
        left = await watcher.next("hub:presence", lambda p: p["event"] == "left")
        assert left["user"]["id"] == student.id
        # The target's socket is out of the room: its sends are refused and reach nobody.
        refused = await target.send(room, "still here?")
        assert refused["success"] is False
        await target.error("NOT_JOINED")
        await target.emit("hub:join", {"roomId": room})
        await target.error("BLOCKED")


async def test_presence_is_per_user_when_the_same_user_is_on_both_processes(
    app: Any, pair: tuple[ServiceProcess, ServiceProcess], student: User, tutor: User
) -> None:
    first, second = pair
    room = await create_room(app, student, tutor)
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        watcher = await here.connect(tutor)
        await watcher.join(room)
        phone = await here.connect(student)
        laptop = await there.connect(student)
        await phone.join(room)
        joined = await watcher.next("hub:presence")
        assert (joined["event"], joined["user"]["id"]) == ("joined", student.id)
        await watcher.next("hub:online")
        second_joined, _ = await laptop.join(room)
        assert [m["id"] for m in second_joined["members"]] == [tutor.id, student.id]
        # One socket of the student leaves: the student is still present through the other.
        assert (await phone.call("hub:leave", {"roomId": room}))["success"] is True
        await laptop.send(room, "still here")
        arrived = await watcher.next("hub:messageArrived")
        assert arrived["message"]["content"] == {"body": "still here"}
        assert watcher.pending("hub:presence", "hub:offline") == []
        # The last one goes: now the student has left and is offline.
        await laptop.disconnect()
        left = await watcher.next("hub:presence")
        assert (left["event"], left["user"]["id"]) == ("left", student.id)
        offline = await watcher.next("hub:offline")
        assert offline == {"roomId": room, "userId": student.id}


async def test_typing_and_read_receipts_relay_across_processes(
    app: Any, pair: tuple[ServiceProcess, ServiceProcess], student: User, tutor: User
) -> None:
    first, second = pair
    room = await create_room(app, student, tutor)
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        reader = await here.connect(student)
        writer = await there.connect(tutor)
        await reader.join(room)
        await writer.join(room)
        await reader.next("hub:presence")
        await reader.next("hub:online")
        await writer.emit("hub:event", {"roomId": room, "event": "typing"})
        assert await reader.next("hub:typing") == {"roomId": room, "userId": tutor.id}
        ack = await writer.send(room, "read me")
        await reader.next("hub:messageArrived")
        await writer.next("hub:messageArrived")
        read_at = ack["message"]["timestamp"]
        await reader.emit(
            "hub:event", {"roomId": room, "event": "messageRead", "data": {"lastReadTimestamp": read_at}}
        )
        receipt = await writer.next("hub:messageRead")
        assert receipt == {"roomId": room, "userId": student.id, "lastReadTimestamp": read_at}
        # The receipt is persisted: the student's inbox has nothing unread in the room.
        async with httpx.AsyncClient(base_url=first.url, headers=student.headers) as client:
            inbox = (await client.get("/v1/myconversations")).json()["conversations"]
        assert [(c["id"], c["unreadCount"]) for c in inbox] == [(room, 0)]


async def test_every_accepted_namespace_on_every_process_receives_room_events(
    app: Any, pair: tuple[ServiceProcess, ServiceProcess], student: User, tutor: User, super_admin: User
) -> None:
    first, second = pair
    room = await create_room(app, student, tutor)
    async with Sockets(first.url) as here, Sockets(second.url) as there:
        sender = await here.connect(student)
        doubled = await there.connect_with(
            auth={"token": tutor.token}, namespace="/messaging-api/messaging-api/hub/chat"
        )
        prefixed = await there.connect(super_admin, prefixed=True)
        for socket in (sender, doubled, prefixed):
            await socket.join(room)
        for made_up in ("/ns1/hub/chat", "/gateway/hub/chat"):
            for sockets in (here, there):
                refusal = await sockets.refusal(auth={"token": student.token}, namespace=made_up)
                assert refusal.startswith(f"Unknown hub: {made_up}")

        ack = await sender.send(room, "to every namespace everywhere")

        for socket in (sender, doubled, prefixed):
            arrived = await socket.next("hub:messageArrived")
            assert arrived["message"]["id"] == ack["message"]["id"]
