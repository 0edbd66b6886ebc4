"""One contract for both hub state implementations: in-memory (one process) and Redis (several).

The Redis cases also show what only a shared store can: two processes' states counting as one,
and a killed process's sockets reaped by a survivor.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import BlockingConnectionPool, Redis

from tests.support.local_redis import REDIS_URL
from tutorhub_messaging.errors import RoomFull, RoomLimit, Unavailable
from tutorhub_messaging.hub.state import Guardrails, HubState, InMemoryHubState, Member, SocketRef
from tutorhub_messaging.hub.state_redis import RedisHubState

GUARDRAILS = Guardrails(max_users_per_room=2, max_rooms_per_user=2)


def member(user: str, role: str = "member") -> Member:
    return Member(user, f"name {user}", f"https://a/{user}.png", role)


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    value = f"test:hub:{uuid.uuid4().hex}:"
    yield value
    keys = [k async for k in redis.scan_iter(match=value + "*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
def make_state(request: pytest.FixtureRequest, redis: Redis, prefix: str) -> Callable[[], HubState]:
    if request.param == "memory":
        shared = InMemoryHubState(GUARDRAILS)
        return lambda: shared
    return lambda: RedisHubState(redis, GUARDRAILS, prefix=prefix)


async def connect(state: HubState, user: str, namespace: str = "/hub/chat") -> str:
    sid = uuid.uuid4().hex
    await state.add_socket(SocketRef(sid, namespace), user)
    return sid


async def test_first_socket_of_a_user_is_announced_and_a_rejoin_changes_nothing(make_state) -> None:
    state = make_state()
    a1 = await connect(state, "alice")
    a2 = await connect(state, "alice")
    first = await state.join(a1, "room", member("alice"))
    second = await state.join(a2, "room", member("alice"))
    again = await state.join(a1, "room", member("alice"))
    assert (first.already_joined, first.first_of_user) == (False, True)
    assert (second.already_joined, second.first_of_user) == (False, False)
    assert again.already_joined is True
    assert await state.members("room") == [member("alice")]


async def test_a_join_lists_everyone_in_the_room_then_in_the_order_they_came(make_state) -> None:
    state = make_state()
    alice, bob = await connect(state, "alice"), await connect(state, "bob")
    first = await state.join(alice, "room", member("alice"))
    second = await state.join(bob, "room", member("bob"))
    again = await state.join(alice, "room", member("alice"))  # already in: listed all the same
    elsewhere = await state.join(bob, "other", member("bob"))

    assert first.members == (member("alice"),)
    assert second.members == (member("alice"), member("bob"))
    assert again.members == second.members == tuple(await state.members("room"))
    assert elsewhere.members == (member("bob"),)


async def test_room_full_counts_distinct_users(make_state) -> None:
    state = make_state()
    for user in ("alice", "bob"):
        await state.join(await connect(state, user), "room", member(user))
    # A second socket of a present user does not take a new place...
    await state.join(await connect(state, "bob"), "room", member("bob"))
    # ...a third user does.
    with pytest.raises(RoomFull):
        await state.join(await connect(state, "carol"), "room", member("carol"))
    assert [m.user_id for m in await state.members("room")] == ["alice", "bob"]


async def test_room_limit_counts_distinct_rooms_per_user(make_state) -> None:
    state = make_state()
    sid = await connect(state, "alice")
    await state.join(sid, "r1", member("alice"))
    await state.join(sid, "r2", member("alice"))
    other = await connect(state, "alice")
    await state.join(other, "r2", member("alice"))  # already in r2: no new room
    with pytest.raises(RoomLimit):
        await state.join(other, "r3", member("alice"))


async def test_leave_reports_the_last_socket_of_a_user(make_state) -> None:
    state = make_state()
    a1, a2 = await connect(state, "alice"), await connect(state, "alice")
    await state.join(a1, "room", member("alice"))
    await state.join(a2, "room", member("alice"))
    first = await state.leave(a1, "room")
    second = await state.leave(a2, "room")
    assert first is not None and first.last_of_user is False
    assert second is not None and second.last_of_user is True
    assert second.member == member("alice")
    assert await state.leave(a2, "room") is None
    assert await state.members("room") == []
    assert await state.is_joined(a2, "room") is False


async def test_removing_a_socket_leaves_every_room_and_frees_places(make_state) -> None:
    state = make_state()
    sid = await connect(state, "alice")
    await state.join(sid, "r1", member("alice"))
    await state.join(sid, "r2", member("alice"))
    departures = await state.remove_socket(sid)
    assert sorted(d.room_id for d in departures) == ["r1", "r2"]
    assert all(d.last_of_user for d in departures)
    assert await state.sockets_of("alice") == []
    # The freed room slots can be used again.
    again = await connect(state, "alice")
    await state.join(again, "r3", member("alice"))
    await state.join(again, "r4", member("alice"))


async def test_evict_takes_every_socket_of_the_user_out_of_the_room(make_state) -> None:
    state = make_state()
    a1 = await connect(state, "alice", "/hub/chat")
    a2 = await connect(state, "alice", "/messaging-api/hub/chat")
    bob = await connect(state, "bob")
    for sid, user in ((a1, "alice"), (a2, "alice"), (bob, "bob")):
        await state.join(sid, "room", member(user))
    eviction = await state.evict("room", "alice")
    assert eviction.member == member("alice")
    assert sorted((s.sid, s.namespace) for s in eviction.sockets) == sorted(
        [(a1, "/hub/chat"), (a2, "/messaging-api/hub/chat")]
    )
    assert [m.user_id for m in await state.members("room")] == ["bob"]
    assert await state.is_joined(a1, "room") is False
    assert (await state.evict("room", "nobody")).member is None


async def test_sockets_of_a_user_span_namespaces(make_state) -> None:
    state = make_state()
    a1 = await connect(state, "alice", "/hub/chat")
    a2 = await connect(state, "alice", "/x/hub/chat")
    assert sorted((s.sid, s.namespace) for s in await state.sockets_of("alice")) == sorted(
        [(a1, "/hub/chat"), (a2, "/x/hub/chat")]
    )


async def test_two_processes_share_room_occupancy(redis: Redis, prefix: str) -> None:
    first = RedisHubState(redis, GUARDRAILS, prefix=prefix)
    second = RedisHubState(redis, GUARDRAILS, prefix=prefix)
    await first.join(await connect(first, "alice"), "room", member("alice"))
    entry = await second.join(await connect(second, "alice"), "room", member("alice"))
    assert entry.first_of_user is False  # alice is already present through the other process
    await second.join(await connect(second, "bob"), "room", member("bob"))
    with pytest.raises(RoomFull):
        await first.join(await connect(first, "carol"), "room", member("carol"))


async def test_a_dead_process_is_reaped_by_a_survivor(redis: Redis, prefix: str) -> None:
    dead = RedisHubState(redis, GUARDRAILS, prefix=prefix)
    alive = RedisHubState(redis, GUARDRAILS, prefix=prefix)
    await dead.heartbeat()
    await alive.heartbeat()
    await dead.join(await connect(dead, "alice"), "room", member("alice"))
    await alive.join(await connect(alive, "bob"), "room", member("bob"))
    # The dead process stops beating; its heartbeat key expires.
    await redis.delete(prefix + "proc:" + dead.process_id)
    departures = await alive.reap_dead_processes()
    assert [(d.room_id, d.member.user_id, d.last_of_user) for d in departures] == [("room", "alice", True)]
    assert [m.user_id for m in await alive.members("room")] == ["bob"]
    assert await alive.reap_dead_processes() == []


async def test_redis_unreachable_is_a_clear_unavailable_error() -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    state = RedisHubState(unreachable, GUARDRAILS, prefix="test:unreachable:")
    with pytest.raises(Unavailable) as raised:
        await state.add_socket(SocketRef("sid", "/hub/chat"), "alice")
    assert raised.value.message == "Realtime service temporarily unavailable"
    with pytest.raises(Unavailable):
        await state.is_joined("sid", "room")
    await unreachable.aclose()


async def test_evictions_and_closings_are_counted_as_removals_hub_wide(make_state) -> None:
    state, other = make_state(), make_state()
    before = await state.removals()
    await state.join(await connect(state, "alice"), "room", member("alice"))
    await state.evict("room", "alice")
    await state.evict("room", "nobody")  # finds no socket, but a join in flight must look again
    await other.begin_removal()
    assert await state.removals() == before + 3
    assert await other.removals() == before + 3


async def test_redis_calls_made_together_go_in_one_pipeline_in_the_order_they_were_made(prefix: str) -> None:
    """Forty sockets of twenty users connecting and joining one room's worth of guardrails at
    once: the outcomes are those of the calls made one by one, in order (the room takes its first
    two users, the rest are refused), over one connection (one each would have opened up to
    the pool's ten)."""
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=10, timeout=5)
    client = Redis.from_pool(pool)
    state = RedisHubState(client, GUARDRAILS, prefix=prefix)
    users = [f"user{n}" for n in range(20)]
    sids = await asyncio.gather(*(connect(state, user) for user in users for _ in range(2)))

    outcomes = await asyncio.gather(
        *(state.join(sid, "room", member(users[n // 2])) for n, sid in enumerate(sids)),
        return_exceptions=True,
    )

    admitted = [n for n, outcome in enumerate(outcomes) if not isinstance(outcome, BaseException)]
    assert admitted == [0, 1, 2, 3]  # both sockets of the first two users, in call order
    assert all(isinstance(outcome, RoomFull) for outcome in outcomes[4:])
    assert len(pool._available_connections) + len(pool._in_use_connections) == 1
    await client.aclose()
