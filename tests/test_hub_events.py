"""hub:event: typing, read receipts and custom events, relayed to the room's other sockets."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.hub_rooms import read_time
from tests.support.sockets import Sockets
from tests.support.users import User
from tutorhub_messaging.hub.handlers import MAX_EVENTS_IN_FLIGHT
from tutorhub_messaging.moderation.service import apply_action


async def test_typing_and_stop_typing_reach_the_other_sockets_but_not_the_sender(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    student_laptop = await hub.connect(student, prefixed=True)
    await student_laptop.join(room)

    ack = await student_socket.call("hub:event", {"roomId": room, "event": "typing"})
    await student_socket.emit("hub:event", {"roomId": room, "event": "stopTyping"})

    assert ack == {"success": True}
    for socket in (tutor_socket, student_laptop):
        assert await socket.next("hub:typing") == {"roomId": room, "userId": student.id}
        assert await socket.next("hub:stopTyping") == {"roomId": room, "userId": student.id}
    await hub.quiet()


async def test_a_custom_event_carries_its_data_and_the_server_keys_win(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)

    await student_socket.emit(
        "hub:event",
        {
            "roomId": room,
            "event": "whiteboardStroke",
            "data": {"points": [[1, 2], [3, 4]], "userId": "forged", "roomId": "forged"},
        },
    )

    assert await tutor_socket.next("hub:whiteboardStroke") == {
        "roomId": room,
        "userId": student.id,
        "points": [[1, 2], [3, 4]],
    }
    await hub.quiet()


async def test_a_read_receipt_is_stored_and_relayed(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    moment = "2026-01-02T03:04:05.678Z"

    await student_socket.emit(
        "hub:event", {"roomId": room, "event": "messageRead", "data": {"lastReadTimestamp": moment}}
    )

    receipt = await tutor_socket.next("hub:messageRead")
    assert receipt == {"roomId": room, "userId": student.id, "lastReadTimestamp": moment}
    assert await read_time(app, room, student) == datetime(2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    await hub.quiet()


async def test_a_read_receipt_never_moves_backwards(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    later, earlier = "2026-01-02T10:00:00.000Z", "2026-01-02T09:00:00.000Z"

    for moment in (later, earlier):
        await student_socket.call(
            "hub:event", {"roomId": room, "event": "messageRead", "data": {"lastReadTimestamp": moment}}
        )

    assert (await tutor_socket.next("hub:messageRead"))["lastReadTimestamp"] == later
    assert (await tutor_socket.next("hub:messageRead"))["lastReadTimestamp"] == later
    assert await read_time(app, room, student) == datetime(2026, 1, 2, 10, tzinfo=UTC)
    await hub.quiet()


async def test_a_read_receipt_from_the_future_is_clamped_to_now(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    future = (datetime.now(UTC) + timedelta(days=365)).isoformat()

    await student_socket.call(
        "hub:event", {"roomId": room, "event": "messageRead", "data": {"lastReadTimestamp": future}}
    )

    relayed = datetime.fromisoformat((await tutor_socket.next("hub:messageRead"))["lastReadTimestamp"])
    assert relayed <= datetime.now(UTC)
    stored = await read_time(app, room, student)
    assert stored == relayed
    await hub.quiet()


async def test_a_read_receipt_without_a_time_means_now(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    before = datetime.now(UTC) - timedelta(seconds=1)

    await student_socket.emit("hub:event", {"roomId": room, "event": "messageRead"})

    relayed = datetime.fromisoformat((await tutor_socket.next("hub:messageRead"))["lastReadTimestamp"])
    assert before <= relayed <= datetime.now(UTC)
    await hub.quiet()


@pytest.mark.parametrize("moment", ["yesterday", "2026-13-45T00:00:00Z", 1700000000, "9" * 100])
async def test_a_read_receipt_with_a_bad_time_is_invalid(
    app: Any, hub: Sockets, student: User, tutor: User, moment: Any
) -> None:
    room, student_socket, _ = await hub.joined_pair(app, student, tutor)

    await student_socket.emit(
        "hub:event", {"roomId": room, "event": "messageRead", "data": {"lastReadTimestamp": moment}}
    )

    await student_socket.error("INVALID_PAYLOAD")
    assert await read_time(app, room, student) is None
    await hub.quiet()


async def test_a_viewer_may_send_read_receipts_but_not_typing(
    app: Any, hub: Sockets, student: User, admin: User
) -> None:
    room, admin_socket, viewer = await hub.joined_pair(app, admin, student, kind="adminStudent")

    read_ack = await viewer.call("hub:event", {"roomId": room, "event": "messageRead"})
    typing_ack = await viewer.call("hub:event", {"roomId": room, "event": "typing"})

    assert read_ack == {"success": True}
    assert (await admin_socket.next("hub:messageRead"))["userId"] == student.id
    assert typing_ack["code"] == "SEND_NOT_ALLOWED"
    await viewer.error("SEND_NOT_ALLOWED")
    assert await read_time(app, room, student) is not None
    await hub.quiet()


async def test_a_silenced_user_may_not_type_but_may_mark_read(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    async with app.context.db.unit_of_work() as uow:
        await apply_action(
            uow.session, room_id=room, user_id=student.id, action="silenced", reason=None, duration=0,
            issued_by=super_admin.id,
        )  # fmt: skip

    await student_socket.emit("hub:event", {"roomId": room, "event": "typing"})
    await student_socket.error("SILENCED")
    await student_socket.emit("hub:event", {"roomId": room, "event": "messageRead"})

    await tutor_socket.next("hub:messageRead")
    await hub.quiet()


async def test_an_event_for_a_room_not_joined_is_not_joined(
    app: Any, hub: Sockets, student: User, tutor: User, stranger: User
) -> None:
    room, _, _ = await hub.joined_pair(app, student, tutor)
    socket = await hub.connect(stranger)

    await socket.emit("hub:event", {"roomId": room, "event": "typing"})

    error = await socket.error("NOT_JOINED")
    assert error["roomId"] == room
    await hub.quiet()


@pytest.mark.parametrize(
    "name",
    [
        "joined", "presence", "messageArrived", "error", "blocked", "silenced", "online", "history",
        "join", "send", "event", "unblocked", "offline", "messageDeleted",
    ],
)  # fmt: skip
async def test_an_event_may_not_shadow_a_protocol_event(
    app: Any, hub: Sockets, student: User, tutor: User, name: str
) -> None:
    room, student_socket, _ = await hub.joined_pair(app, student, tutor)

    await student_socket.emit("hub:event", {"roomId": room, "event": name})

    await student_socket.error("INVALID_PAYLOAD")
    await hub.quiet()


@pytest.mark.parametrize(
    "name", ["", "1typing", "typ ing", "hub:typing", "typing!", "a" * 65, "ünïcode", None, 42, ["typing"]]
)
async def test_a_malformed_event_name_is_invalid(
    app: Any, hub: Sockets, student: User, tutor: User, name: Any
) -> None:
    room, student_socket, _ = await hub.joined_pair(app, student, tutor)

    await student_socket.emit("hub:event", {"roomId": room, "event": name})

    await student_socket.error("INVALID_PAYLOAD")
    await hub.quiet()


async def test_the_longest_allowed_event_name_is_relayed(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    name = "e" + "x_9" * 21

    await student_socket.emit("hub:event", {"roomId": room, "event": name})

    await tutor_socket.next(f"hub:{name}")
    await hub.quiet()


@pytest.mark.parametrize("data", ["text", 12, [1, 2], True])
async def test_event_data_that_is_not_an_object_is_invalid(
    app: Any, hub: Sockets, student: User, tutor: User, data: Any
) -> None:
    room, student_socket, _ = await hub.joined_pair(app, student, tutor)

    await student_socket.emit("hub:event", {"roomId": room, "event": "typing", "data": data})

    await student_socket.error("INVALID_PAYLOAD")
    await hub.quiet()


@pytest.mark.parametrize("settings_overrides", [{"max_message_bytes": 512}])
async def test_event_data_over_the_size_limit_is_too_large(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)

    await student_socket.emit("hub:event", {"roomId": room, "event": "cursor", "data": {"blob": "z" * 600}})
    await student_socket.error("MESSAGE_TOO_LARGE")
    await student_socket.emit("hub:event", {"roomId": room, "event": "cursor", "data": {"blob": "z" * 100}})

    await tutor_socket.next("hub:cursor")
    await hub.quiet()


# This test is about the queue of one socket, so the event budgets are out of its way here.
@pytest.mark.parametrize(
    "settings_overrides",
    [{"hub_custom_events_per_socket": 10_000, "hub_custom_events_per_user": 10_000}],
    indirect=True,
)
async def test_a_flood_of_events_is_refused_beyond_what_a_socket_may_queue(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    flood = 250
    connection = app.context.hub_control.hub.connections[student_socket.sid]
    # The socket's turn is held, as by a slow event of its own: everything it sends queues.
    await connection.lock.acquire()
    try:
        for index in range(flood):  # without waiting for anything
            await student_socket.emit("hub:event", {"roomId": room, "event": "cursor", "data": {"i": index}})
        refusals = flood - MAX_EVENTS_IN_FLIGHT
        for _ in range(500):  # bounded wait until the server has read the whole flood
            if len(student_socket.pending("hub:error")) >= refusals:
                break
            await asyncio.sleep(0.01)
    finally:
        connection.lock.release()

    refused = student_socket.pending("hub:error")
    assert len(refused) == refusals
    assert all(payload["code"] == "RATE_LIMITED" for _, payload in refused)
    # The queued ones are relayed, in order, once the turn comes back.
    relayed = [(await tutor_socket.next("hub:cursor"))["i"] for _ in range(MAX_EVENTS_IN_FLIGHT)]
    assert relayed == list(range(MAX_EVENTS_IN_FLIGHT))
    for _ in refused:
        await student_socket.next("hub:error")
    # And the socket takes events again.
    assert (
        await student_socket.call("hub:event", {"roomId": room, "event": "cursor", "data": {"i": flood}})
    )["success"]
    assert (await tutor_socket.next("hub:cursor"))["i"] == flood
    await hub.quiet()


async def test_a_read_receipt_relays_only_its_documented_keys(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    moment = "2026-01-02T03:04:05.678Z"
    data = {"lastReadTimestamp": moment, "body": "not a message", "content": {"x": 1}, "userId": "forged"}

    ack = await student_socket.call("hub:event", {"roomId": room, "event": "messageRead", "data": data})
    await student_socket.emit("hub:event", {"roomId": room, "event": "typing", "data": {"body": "hi"}})

    assert ack == {"success": True}
    assert await tutor_socket.next("hub:messageRead") == {
        "roomId": room,
        "userId": student.id,
        "lastReadTimestamp": moment,
    }
    assert await tutor_socket.next("hub:typing") == {"roomId": room, "userId": student.id}
    await hub.quiet()


async def test_a_read_receipt_carrying_a_blob_is_refused(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, _tutor_socket = await hub.joined_pair(app, student, tutor)

    ack = await student_socket.call(
        "hub:event", {"roomId": room, "event": "messageRead", "data": {"blob": "x" * 60_000}}
    )

    assert ack["success"] is False
    assert ack["code"] == "MESSAGE_TOO_LARGE"
    await student_socket.error("MESSAGE_TOO_LARGE")
    assert await read_time(app, room, student) is None
    await hub.quiet()
