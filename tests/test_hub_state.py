"""The in-memory hub state: presence per user, guardrails, and what leaving reports."""

from __future__ import annotations

import pytest

from tutorhub_messaging.errors import RoomFull, RoomLimit
from tutorhub_messaging.hub.state import Departure, Entry, Guardrails, InMemoryHubState, Member, SocketRef

ALICE = Member("alice", "Alice", None, "member")
BOB = Member("bob", "Bob", None, "member")
CAROL = Member("carol", "Carol", None, "system")


async def _state(max_users: int = 10, max_rooms: int = 100) -> InMemoryHubState:
    state = InMemoryHubState(Guardrails(max_users, max_rooms))
    for sid, user in (("a1", "alice"), ("a2", "alice"), ("b1", "bob"), ("c1", "carol")):
        await state.add_socket(SocketRef(sid, "/hub/chat"), user)
    return state


async def test_the_first_socket_of_a_user_enters_and_the_second_does_not() -> None:
    state = await _state()

    only_alice = (ALICE,)
    assert await state.join("a1", "room", ALICE) == Entry(False, first_of_user=True, members=only_alice)
    assert await state.join("a2", "room", ALICE) == Entry(False, first_of_user=False, members=only_alice)
    assert await state.join("a1", "room", ALICE) == Entry(True, first_of_user=False, members=only_alice)
    assert await state.members("room") == [ALICE]


async def test_only_the_last_socket_of_a_user_leaves_the_room() -> None:
    state = await _state()
    await state.join("a1", "room", ALICE)
    await state.join("a2", "room", ALICE)

    assert await state.leave("a1", "room") == Departure("room", ALICE, last_of_user=False)
    assert await state.leave("a1", "room") is None
    assert await state.leave("a2", "room") == Departure("room", ALICE, last_of_user=True)
    assert await state.members("room") == []


async def test_a_full_room_takes_more_sockets_of_present_users_only() -> None:
    state = await _state(max_users=2)
    await state.join("a1", "room", ALICE)
    await state.join("b1", "room", BOB)

    with pytest.raises(RoomFull):
        await state.join("c1", "room", CAROL)
    await state.join("a2", "room", ALICE)
    await state.leave("b1", "room")
    await state.join("c1", "room", CAROL)
    assert [m.user_id for m in await state.members("room")] == ["alice", "carol"]


async def test_rooms_per_user_count_distinct_rooms_across_sockets() -> None:
    state = await _state(max_rooms=2)
    await state.join("a1", "one", ALICE)
    await state.join("a2", "two", ALICE)

    with pytest.raises(RoomLimit):
        await state.join("a1", "three", ALICE)
    await state.join("a1", "two", ALICE)  # not a new room for alice
    await state.leave("a2", "two")
    with pytest.raises(RoomLimit):  # a1 is still in "two"
        await state.join("a2", "three", ALICE)
    await state.leave("a1", "two")
    await state.join("a2", "three", ALICE)


async def test_removing_a_socket_reports_every_room_it_left() -> None:
    state = await _state()
    await state.join("a1", "one", ALICE)
    await state.join("a1", "two", ALICE)
    await state.join("a2", "two", ALICE)

    departures = await state.remove_socket("a1")

    assert sorted(departures, key=lambda d: d.room_id) == [
        Departure("one", ALICE, last_of_user=True),
        Departure("two", ALICE, last_of_user=False),
    ]
    assert await state.sockets_of("alice") == [SocketRef("a2", "/hub/chat")]
    assert await state.remove_socket("a1") == []


async def test_evicting_a_user_takes_all_their_sockets_out_of_that_room_only() -> None:
    state = await _state()
    await state.join("a1", "room", ALICE)
    await state.join("a2", "room", ALICE)
    await state.join("a1", "other", ALICE)
    await state.join("b1", "room", BOB)

    eviction = await state.evict("room", "alice")

    assert sorted(s.sid for s in eviction.sockets) == ["a1", "a2"]
    assert eviction.member == ALICE
    assert await state.members("room") == [BOB]
    assert await state.is_joined("a1", "other")
    assert (await state.evict("room", "alice")).member is None


async def test_a_later_socket_refreshes_the_members_name() -> None:
    state = await _state()
    await state.join("a1", "room", ALICE)

    renamed = Member("alice", "Alice Smith", "https://cdn.example.test/a.png", "member")
    await state.join("a2", "room", renamed)

    assert await state.members("room") == [renamed]
