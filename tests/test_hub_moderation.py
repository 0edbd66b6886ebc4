"""hub:block, hub:unblock, hub:silence, hub:unsilence: who may, what the target and the room see,
what is stored, and expiry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.support.hub_rooms import create_room, message_count, moderation_in_force
from tests.support.sockets import Sockets
from tests.support.users import User


async def _room_with_student_on_two_sockets(
    app: Any, hub: Sockets, student: User, tutor: User
) -> tuple[str, Any, Any, Any]:
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    await tutor_socket.join(room)
    phone = await hub.connect(student)
    laptop = await hub.connect(student, prefixed=True)
    await phone.join(room)
    await laptop.join(room)
    await tutor_socket.next("hub:presence")
    await tutor_socket.next("hub:online")
    return room, tutor_socket, phone, laptop


async def test_a_block_removes_all_the_targets_sockets_and_tells_them_and_the_room(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room, tutor_socket, phone, laptop = await _room_with_student_on_two_sockets(app, hub, student, tutor)
    idle = await hub.connect(student)  # connected, never joined: still told
    moderator = await hub.connect(super_admin)  # a moderator need not join

    ack = await moderator.call("hub:block", {"roomId": room, "userId": student.id, "reason": "Spam"})

    assert ack == {"success": True}
    for socket in (phone, laptop, idle):
        assert await socket.next("hub:blocked") == {"roomId": room, "reason": "Spam"}
    left = await tutor_socket.next("hub:presence")
    assert left["event"] == "left"
    assert left["user"]["id"] == student.id
    await hub.quiet()

    blocked, _ = await moderation_in_force(app, room, student)
    assert blocked is not None
    assert blocked.reason == "Spam"
    assert blocked.expires_at is None
    assert blocked.issued_by == super_admin.id

    # Removed from the room: nothing of it reaches them, and they cannot act in it.
    await tutor_socket.send(room, "are they gone?")
    await tutor_socket.next("hub:messageArrived")
    assert (await phone.send(room, "let me back"))["code"] == "NOT_JOINED"
    await phone.error("NOT_JOINED")
    await hub.quiet()


async def test_a_blocked_user_cannot_rejoin_until_unblocked(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room, tutor_socket, phone, laptop = await _room_with_student_on_two_sockets(app, hub, student, tutor)
    moderator = await hub.connect(super_admin)
    await moderator.call("hub:block", {"roomId": room, "userId": student.id})
    for socket in (phone, laptop):
        assert await socket.next("hub:blocked") == {"roomId": room, "reason": None}
    await tutor_socket.next("hub:presence")

    await phone.emit("hub:join", {"roomId": room})
    error = await phone.error("BLOCKED")
    assert error["roomId"] == room

    assert await moderator.call("hub:unblock", {"roomId": room, "userId": student.id}) == {"success": True}
    for socket in (phone, laptop):
        assert await socket.next("hub:unblocked") == {"roomId": room}
    await phone.join(room)
    assert (await tutor_socket.next("hub:presence"))["event"] == "joined"
    await tutor_socket.next("hub:online")
    await hub.quiet()
    assert await moderation_in_force(app, room, student) == (None, None)


async def test_a_silence_refuses_sends_until_lifted_and_keeps_the_user_in_the_room(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room, tutor_socket, phone, laptop = await _room_with_student_on_two_sockets(app, hub, student, tutor)
    moderator = await hub.connect(super_admin)

    ack = await moderator.call("hub:silence", {"roomId": room, "userId": student.id, "reason": "Off-topic"})

    assert ack == {"success": True}
    for socket in (phone, laptop):
        assert await socket.next("hub:silenced") == {"roomId": room, "reason": "Off-topic"}
    await hub.quiet()  # no presence change: a silenced user stays in the room
    refused = await phone.send(room, "but...")
    assert refused["code"] == "SILENCED"
    await phone.error("SILENCED")
    assert await message_count(app, room) == 0

    await tutor_socket.send(room, "you can still read")
    for socket in (tutor_socket, phone, laptop):
        await socket.next("hub:messageArrived")

    await moderator.call("hub:unsilence", {"roomId": room, "userId": student.id})
    for socket in (phone, laptop):
        assert await socket.next("hub:unsilenced") == {"roomId": room}
    assert (await phone.send(room, "thanks"))["success"] is True
    for socket in (tutor_socket, phone, laptop):
        await socket.next("hub:messageArrived")
    await hub.quiet()


async def test_a_silence_with_a_duration_expires(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room, tutor_socket, phone, laptop = await _room_with_student_on_two_sockets(app, hub, student, tutor)
    moderator = await hub.connect(super_admin)
    await moderator.call("hub:silence", {"roomId": room, "userId": student.id, "duration": 1})
    for socket in (phone, laptop):
        await socket.next("hub:silenced")
    _, silence = await moderation_in_force(app, room, student)
    assert silence is not None
    assert silence.duration == 1
    assert silence.expires_at is not None

    assert (await phone.send(room, "too soon"))["code"] == "SILENCED"
    await phone.error("SILENCED")
    await asyncio.sleep(1.1)  # the one wait this test is about: the silence's own duration

    assert (await phone.send(room, "free again"))["success"] is True
    for socket in (tutor_socket, phone, laptop):
        await socket.next("hub:messageArrived")
    await hub.quiet()


async def test_a_block_with_a_duration_expires(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room = await create_room(app, student, tutor)
    student_socket = await hub.connect(student)
    moderator = await hub.connect(super_admin)
    await moderator.call("hub:block", {"roomId": room, "userId": student.id, "duration": 1})
    await student_socket.next("hub:blocked")

    await student_socket.emit("hub:join", {"roomId": room})
    await student_socket.error("BLOCKED")
    await asyncio.sleep(1.1)

    await student_socket.join(room)
    await hub.quiet()


@pytest.mark.parametrize("action", ["hub:block", "hub:unblock", "hub:silence", "hub:unsilence"])
async def test_a_member_may_not_moderate(
    app: Any, hub: Sockets, student: User, tutor: User, action: str
) -> None:
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    student_socket = await hub.connect(student)
    await tutor_socket.join(room)

    ack = await tutor_socket.call(action, {"roomId": room, "userId": student.id})

    assert ack["success"] is False
    assert ack["code"] == "MODERATE_NOT_ALLOWED"
    error = await tutor_socket.error("MODERATE_NOT_ALLOWED")
    assert error["roomId"] == room
    assert await moderation_in_force(app, room, student) == (None, None)
    assert student_socket.pending() == []
    await hub.quiet()


async def test_a_global_admin_who_is_a_participant_may_not_moderate(
    app: Any, hub: Sockets, student: User, admin: User
) -> None:
    room = await create_room(app, admin, student, kind="adminStudent")
    admin_socket = await hub.connect(admin)

    await admin_socket.emit("hub:block", {"roomId": room, "userId": student.id})

    await admin_socket.error("MODERATE_NOT_ALLOWED")
    await hub.quiet()


async def test_a_stranger_moderating_is_not_authorized(
    app: Any, hub: Sockets, student: User, tutor: User, stranger: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(stranger)

    await socket.emit("hub:silence", {"roomId": room, "userId": student.id})

    await socket.error("NOT_AUTHORIZED")
    assert await moderation_in_force(app, room, student) == (None, None)
    await hub.quiet()


async def test_moderating_an_unknown_room_is_room_not_found(
    hub: Sockets, student: User, super_admin: User
) -> None:
    moderator = await hub.connect(super_admin)

    await moderator.emit(
        "hub:block", {"roomId": "4a2b6d1e-0000-4000-8000-000000000def", "userId": student.id}
    )

    await moderator.error("ROOM_NOT_FOUND")
    await hub.quiet()


async def test_a_closed_room_can_still_be_moderated(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room = await create_room(app, student, tutor, status="closed")
    moderator = await hub.connect(super_admin)

    assert await moderator.call("hub:block", {"roomId": room, "userId": student.id}) == {"success": True}

    blocked, _ = await moderation_in_force(app, room, student)
    assert blocked is not None
    await hub.quiet()


async def test_a_moderator_cannot_moderate_themselves(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room = await create_room(app, student, tutor)
    moderator = await hub.connect(super_admin)

    await moderator.emit("hub:block", {"roomId": room, "userId": super_admin.id})

    await moderator.error("INVALID_PAYLOAD")
    await hub.quiet()


async def test_lifting_what_is_not_in_force_succeeds_and_tells_nobody(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room = await create_room(app, student, tutor)
    student_socket = await hub.connect(student)
    moderator = await hub.connect(super_admin)

    assert await moderator.call("hub:unblock", {"roomId": room, "userId": student.id}) == {"success": True}
    assert await moderator.call("hub:unsilence", {"roomId": room, "userId": student.id}) == {"success": True}

    assert student_socket.pending() == []
    await hub.quiet()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"userId": "0c9d1f3a-0000-4000-8000-000000000001", "duration": -1},
        {"userId": "0c9d1f3a-0000-4000-8000-000000000001", "duration": 1.5},
        {"userId": "0c9d1f3a-0000-4000-8000-000000000001", "duration": "60"},
        {"userId": "0c9d1f3a-0000-4000-8000-000000000001", "duration": True},
        {"userId": "0c9d1f3a-0000-4000-8000-000000000001", "duration": 10**12},
        {"userId": "0c9d1f3a-0000-4000-8000-000000000001", "reason": 5},
        {"userId": "0c9d1f3a-0000-4000-8000-000000000001", "reason": "r" * 1001},
        {"userId": "someone"},
        {"userId": ["0c9d1f3a-0000-4000-8000-000000000001"]},
    ],
)
async def test_an_ill_formed_moderation_is_invalid(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User, payload: dict[str, Any]
) -> None:
    room = await create_room(app, student, tutor)
    moderator = await hub.connect(super_admin)

    ack = await moderator.call("hub:block", {"roomId": room, **payload})

    assert ack["code"] == "INVALID_PAYLOAD"
    await moderator.error("INVALID_PAYLOAD")
    await hub.quiet()


async def test_a_block_reaches_the_target_on_both_namespaces_and_the_room_on_both(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room = await create_room(app, student, tutor)
    tutor_plain = await hub.connect(tutor)
    tutor_prefixed = await hub.connect(tutor, prefixed=True)
    student_prefixed = await hub.connect(student, prefixed=True)
    for socket in (tutor_plain, tutor_prefixed, student_prefixed):
        await socket.join(room)
    for socket in (tutor_plain, tutor_prefixed):
        await socket.next("hub:presence")
        await socket.next("hub:online")
    moderator = await hub.connect(super_admin, prefixed=True)

    await moderator.call("hub:block", {"roomId": room, "userId": student.id, "reason": "Abuse"})

    await student_prefixed.next("hub:blocked")
    for socket in (tutor_plain, tutor_prefixed):
        assert (await socket.next("hub:presence"))["event"] == "left"
    await hub.quiet()
