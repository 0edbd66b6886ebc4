"""hub:join and hub:leave: what the joiner is told, who sees presence, and every refusal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.hub_rooms import create_room, delete_message, store_texts
from tests.support.sockets import Sockets
from tests.support.users import User


async def test_join_answers_joined_then_history_newest_first(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    stored = await store_texts(app, room, student, "first", "second", "third")
    socket = await hub.connect(tutor)

    joined, history = await socket.join(room)

    assert socket.names()[:2] == ["hub:joined", "hub:history"]
    assert joined["roomId"] == room
    assert joined["hubRole"] == "member"
    assert joined["userInfo"] == {"fullname": tutor.fullname, "avatar": tutor.avatar}
    assert joined["members"] == [
        {
            "id": tutor.id,
            "fullname": tutor.fullname,
            "avatar": tutor.avatar,
            "hubRole": "member",
            "online": True,
        }
    ]
    assert history["roomId"] == room
    assert [m["id"] for m in history["messages"]] == [m["id"] for m in reversed(stored)]
    first = history["messages"][-1]
    assert first["senderName"] == student.fullname
    assert first["senderAvatar"] == student.avatar
    assert first["content"] == {"body": "first"}
    await hub.quiet()


@pytest.mark.parametrize("settings_overrides", [{"history_on_join": 3}])
async def test_history_on_join_is_capped_by_the_setting(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    await store_texts(app, room, student, *[f"m{i}" for i in range(7)])
    socket = await hub.connect(tutor)

    _, history = await socket.join(room)

    assert [m["content"]["body"] for m in history["messages"]] == ["m6", "m5", "m4"]


@pytest.mark.parametrize("settings_overrides", [{"history_on_join": 2}])
async def test_join_after_a_message_sends_at_most_a_page_of_newer_ones(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    stored = await store_texts(app, room, student, "one", "two", "three", "four")
    socket = await hub.connect(tutor)

    _, history = await socket.join(room, after=stored[0]["id"])

    assert [m["content"]["body"] for m in history["messages"]] == ["two", "three"]
    await hub.quiet()  # a full page: the rest is paged over REST, not pushed


async def test_join_after_a_message_sends_the_newer_ones_oldest_first(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    stored = await store_texts(app, room, student, "one", "two", "three", "four")
    socket = await hub.connect(tutor)

    _, history = await socket.join(room, after=stored[1]["id"])

    assert [m["content"]["body"] for m in history["messages"]] == ["three", "four"]
    await hub.quiet()


async def test_join_after_a_message_deleted_since_still_resumes_after_it(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    stored = await store_texts(app, room, student, "one", "two", "three")
    await delete_message(app, stored[1]["id"])
    socket = await hub.connect(tutor)

    _, history = await socket.join(room, after=stored[1]["id"])

    assert [m["content"]["body"] for m in history["messages"]] == ["three"]
    await hub.quiet()


async def test_join_after_the_newest_message_sends_an_empty_history(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    stored = await store_texts(app, room, student, "one", "two")
    socket = await hub.connect(tutor)

    _, history = await socket.join(room, after=stored[-1]["id"])

    assert history["messages"] == []
    await hub.quiet()


async def test_join_after_a_message_of_another_room_is_invalid(
    app: Any, hub: Sockets, student: User, tutor: User, admin: User
) -> None:
    room = await create_room(app, student, tutor)
    other = await create_room(app, admin, tutor, kind="adminTutor")
    foreign = await store_texts(app, other, admin, "elsewhere")
    socket = await hub.connect(tutor)

    await socket.emit("hub:join", {"roomId": room, "after": foreign[0]["id"]})

    error = await socket.error("INVALID_PAYLOAD")
    assert error["roomId"] == room
    await hub.quiet()


@pytest.mark.parametrize("after", ["00000000-0000-4000-8000-000000000000", "not-an-id", 12, {"id": "x"}])
async def test_join_after_an_unknown_or_malformed_id_is_invalid(
    app: Any, hub: Sockets, student: User, tutor: User, after: Any
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(tutor)

    await socket.emit("hub:join", {"roomId": room, "after": after})

    await socket.error("INVALID_PAYLOAD")
    await hub.quiet()


async def test_presence_and_online_reach_the_others_but_not_the_joiner(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    await tutor_socket.join(room)
    student_socket = await hub.connect(student)

    joined, _ = await student_socket.join(room, meta={"device": "tablet"})

    presence = await tutor_socket.next("hub:presence")
    assert presence == {
        "event": "joined",
        "roomId": room,
        "user": {
            "id": student.id,
            "fullname": student.fullname,
            "avatar": student.avatar,
            "hubRole": "member",
        },
        "meta": {"device": "tablet"},
    }
    assert await tutor_socket.next("hub:online") == {"roomId": room, "userId": student.id}
    assert [m["id"] for m in joined["members"]] == [tutor.id, student.id]
    assert all(m["online"] is True for m in joined["members"])
    await hub.quiet()


async def test_presence_without_meta_has_no_meta_key(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    await tutor_socket.join(room)
    student_socket = await hub.connect(student)

    await student_socket.join(room)

    presence = await tutor_socket.next("hub:presence")
    assert "meta" not in presence
    await tutor_socket.next("hub:online")
    await hub.quiet()


async def test_joining_twice_on_one_socket_resends_joined_and_history_without_presence(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    await store_texts(app, room, student, "hello")
    tutor_socket = await hub.connect(tutor)
    await tutor_socket.join(room)
    student_socket = await hub.connect(student)
    await student_socket.join(room)
    await tutor_socket.next("hub:presence")
    await tutor_socket.next("hub:online")

    joined, history = await student_socket.join(room)

    assert joined["hubRole"] == "member"
    assert [m["content"]["body"] for m in history["messages"]] == ["hello"]
    await hub.quiet()


async def test_a_second_socket_of_the_same_user_brings_no_second_presence(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    await tutor_socket.join(room)
    phone = await hub.connect(student)
    await phone.join(room)
    await tutor_socket.next("hub:presence")
    await tutor_socket.next("hub:online")
    laptop = await hub.connect(student, prefixed=True)

    joined, _ = await laptop.join(room)

    assert [m["id"] for m in joined["members"]] == [tutor.id, student.id]
    await hub.quiet()


async def test_leave_announces_left_only_when_the_users_last_socket_leaves(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    await tutor_socket.join(room)
    phone = await hub.connect(student)
    laptop = await hub.connect(student)
    await phone.join(room)
    await laptop.join(room)
    await tutor_socket.next("hub:presence")
    await tutor_socket.next("hub:online")

    assert await phone.call("hub:leave", {"roomId": room}) == {"success": True}
    await hub.quiet()

    await laptop.emit("hub:leave", {"roomId": room})
    left = await tutor_socket.next("hub:presence")
    assert left == {
        "event": "left",
        "roomId": room,
        "user": {
            "id": student.id,
            "fullname": student.fullname,
            "avatar": student.avatar,
            "hubRole": "member",
        },
    }
    await hub.quiet()


async def test_a_socket_that_left_no_longer_receives_the_rooms_messages(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    student_socket = await hub.connect(student)
    await tutor_socket.join(room)
    await student_socket.join(room)
    await tutor_socket.next("hub:presence")
    await tutor_socket.next("hub:online")
    await student_socket.call("hub:leave", {"roomId": room})
    await tutor_socket.next("hub:presence", lambda p: p["event"] == "left")

    ack = await tutor_socket.send(room, "anyone?")

    assert ack["success"] is True
    await tutor_socket.next("hub:messageArrived")
    await hub.quiet()


async def test_leave_of_a_room_not_joined_is_not_joined(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(student)

    ack = await socket.call("hub:leave", {"roomId": room})

    assert ack["success"] is False
    assert ack["code"] == "NOT_JOINED"
    error = await socket.error("NOT_JOINED")
    assert error["roomId"] == room
    await hub.quiet()


async def test_disconnect_announces_left_and_offline_to_the_room(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    student_socket = await hub.connect(student)
    await tutor_socket.join(room)
    await student_socket.join(room)
    await tutor_socket.next("hub:presence")
    await tutor_socket.next("hub:online")

    await student_socket.disconnect()

    left = await tutor_socket.next("hub:presence")
    assert left["event"] == "left"
    assert left["user"]["id"] == student.id
    assert await tutor_socket.next("hub:offline") == {"roomId": room, "userId": student.id}
    await hub.quiet()


async def test_disconnect_of_one_of_two_sockets_keeps_the_user_present(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    phone = await hub.connect(student)
    laptop = await hub.connect(student, prefixed=True)
    await tutor_socket.join(room)
    await phone.join(room)
    await laptop.join(room)
    await tutor_socket.next("hub:presence")
    await tutor_socket.next("hub:online")

    await phone.disconnect()

    await hub.quiet()
    joined, _ = await tutor_socket.join(room)
    assert [m["id"] for m in joined["members"]] == [tutor.id, student.id]


async def test_a_student_in_an_admin_student_room_joins_as_viewer(
    app: Any, hub: Sockets, student: User, admin: User
) -> None:
    room = await create_room(app, admin, student, kind="adminStudent")
    socket = await hub.connect(student)

    joined, _ = await socket.join(room)

    assert joined["hubRole"] == "viewer"
    await hub.quiet()


async def test_a_super_admin_joins_any_room_with_the_system_role(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(super_admin)

    joined, _ = await socket.join(room)

    assert joined["hubRole"] == "system"
    await hub.quiet()


async def test_a_stranger_is_not_authorized_and_learns_nothing(
    app: Any, hub: Sockets, student: User, tutor: User, stranger: User
) -> None:
    room = await create_room(app, student, tutor)
    await store_texts(app, room, student, "private")
    member = await hub.connect(student)
    await member.join(room)
    socket = await hub.connect(stranger)

    ack = await socket.call("hub:join", {"roomId": room})

    assert ack["success"] is False
    assert ack["code"] == "NOT_AUTHORIZED"
    error = await socket.error("NOT_AUTHORIZED")
    assert error["roomId"] == room
    assert "private" not in str(error)
    await hub.quiet()  # neither joined/history for the stranger nor presence for the member


async def test_a_global_admin_who_is_not_a_participant_is_not_authorized(
    app: Any, hub: Sockets, student: User, tutor: User, admin: User
) -> None:
    room = await create_room(app, student, tutor)
    socket = await hub.connect(admin)

    await socket.emit("hub:join", {"roomId": room})

    await socket.error("NOT_AUTHORIZED")
    await hub.quiet()


async def test_an_unknown_room_is_room_not_found(hub: Sockets, student: User) -> None:
    socket = await hub.connect(student)

    await socket.emit("hub:join", {"roomId": "6f1c2a7e-0000-4000-8000-000000000abc"})

    error = await socket.error("ROOM_NOT_FOUND")
    assert error["roomId"] == "6f1c2a7e-0000-4000-8000-000000000abc"
    await hub.quiet()


async def test_a_closed_room_is_not_eligible(app: Any, hub: Sockets, student: User, tutor: User) -> None:
    room = await create_room(app, student, tutor, status="closed")
    socket = await hub.connect(student)

    await socket.emit("hub:join", {"roomId": room})

    await socket.error("ROOM_NOT_ELIGIBLE")
    await hub.quiet()


async def test_a_closed_room_is_not_authorized_for_a_stranger_rather_than_not_eligible(
    app: Any, hub: Sockets, student: User, tutor: User, stranger: User
) -> None:
    room = await create_room(app, student, tutor, status="closed")
    socket = await hub.connect(stranger)

    await socket.emit("hub:join", {"roomId": room})

    await socket.error("NOT_AUTHORIZED")
    await hub.quiet()


@pytest.mark.parametrize("settings_overrides", [{"max_users_per_room": 2}])
async def test_a_full_room_refuses_a_new_user_but_not_another_socket_of_a_present_one(
    app: Any, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    student_socket = await hub.connect(student)
    await tutor_socket.join(room)
    await student_socket.join(room)
    await tutor_socket.next("hub:presence")
    await tutor_socket.next("hub:online")

    admin_socket = await hub.connect(super_admin)
    await admin_socket.emit("hub:join", {"roomId": room})
    error = await admin_socket.error("ROOM_FULL")
    assert error["error"] == "Room is full"

    second = await hub.connect(student, prefixed=True)
    joined, _ = await second.join(room)
    assert len(joined["members"]) == 2
    await hub.quiet()


@pytest.mark.parametrize("settings_overrides", [{"max_rooms_per_user": 1}])
async def test_a_user_in_too_many_rooms_is_refused_another(
    app: Any, hub: Sockets, student: User, tutor: User, admin: User
) -> None:
    first = await create_room(app, student, tutor)
    second = await create_room(app, admin, tutor, kind="adminTutor")
    socket = await hub.connect(tutor)
    await socket.join(first)

    await socket.emit("hub:join", {"roomId": second})
    await socket.error("ROOM_LIMIT")

    other_device = await hub.connect(tutor, prefixed=True)
    await other_device.join(first)  # the same room again is no new room

    await socket.call("hub:leave", {"roomId": first})
    await other_device.call("hub:leave", {"roomId": first})
    await socket.join(second)  # a slot is free again
    await hub.quiet()


async def test_the_rooms_of_a_user_are_counted_across_namespaces_when_leaving(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    await tutor_socket.join(room)
    plain = await hub.connect(student)
    prefixed = await hub.connect(student, prefixed=True)
    await plain.join(room)
    await prefixed.join(room)
    await tutor_socket.next("hub:presence")
    await tutor_socket.next("hub:online")

    await plain.call("hub:leave", {"roomId": room})
    await hub.quiet()
    await prefixed.call("hub:leave", {"roomId": room})

    assert (await tutor_socket.next("hub:presence"))["event"] == "left"
    await hub.quiet()
