"""The hub's emits send to each recipient in turn instead of in a task each (``hub.direct_emit``),
and still reach every recipient but the skipped ones, one closed socket notwithstanding."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import socketio

from tests.support.sockets import HubClient, Sockets
from tests.support.users import User

NAMESPACE = "/hub/chat"


@asynccontextmanager
async def tasks_created() -> AsyncIterator[list[asyncio.Task[Any]]]:
    """The tasks created on the running loop while the block runs (asyncio's task factory)."""
    loop = asyncio.get_running_loop()
    created: list[asyncio.Task[Any]] = []
    previous = loop.get_task_factory()

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = previous(loop, coro, **kwargs) if previous else asyncio.Task(coro, loop=loop, **kwargs)
        created.append(task)
        return task

    loop.set_task_factory(factory)
    try:
        yield created
    finally:
        loop.set_task_factory(previous)


async def _room_of(hub: Sockets, app: Any, count: int) -> tuple[Any, str, list[HubClient]]:
    sockets = [await hub.connect(User("student")) for _ in range(count)]
    manager = app.context.hub_control.hub.sio.manager
    room = f"direct-{uuid.uuid4().hex}"
    for socket in sockets:
        await app.context.hub_control.hub.sio.enter_room(socket.sid, room, namespace=NAMESPACE)
    return manager, room, sockets


EmitFunction = Callable[..., Awaitable[None]]


async def _emit_counting_tasks(emit: EmitFunction, manager: Any, room: str) -> int:
    """Tasks made to send to a recipient (the test's clients, in this loop too, make their own)."""
    async with tasks_created() as created:
        await emit(manager, "hub:direct", {"n": 1}, namespace=NAMESPACE, room=room)
    return sum(1 for task in created if task.get_coro().__qualname__.endswith("_send_eio_packet"))


async def test_an_emit_to_a_room_creates_no_task_per_recipient(app: Any, hub: Sockets) -> None:
    manager, room, sockets = await _room_of(hub, app, 6)

    ours = await _emit_counting_tasks(type(manager).emit, manager, room)
    library = await _emit_counting_tasks(socketio.AsyncManager.emit, manager, room)

    assert (ours, library) == (0, 6)
    for socket in sockets:  # both emits arrived, once each
        assert await socket.next("hub:direct") == {"n": 1}
        assert await socket.next("hub:direct") == {"n": 1}
    await hub.quiet()


async def test_every_recipient_but_the_skipped_gets_the_event_in_order(app: Any, hub: Sockets) -> None:
    manager, room, sockets = await _room_of(hub, app, 3)

    for n in range(3):
        await manager.emit("hub:direct", {"n": n}, namespace=NAMESPACE, room=room, skip_sid=sockets[0].sid)
    await manager.emit("hub:direct", {"n": "one"}, namespace=NAMESPACE, to=sockets[0].sid)

    assert [await sockets[1].next("hub:direct") for _ in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert [await sockets[2].next("hub:direct") for _ in range(3)] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert await sockets[0].next("hub:direct") == {"n": "one"}
    await hub.quiet()


async def test_a_recipient_whose_socket_closed_does_not_cost_the_others_the_event(
    app: Any, hub: Sockets
) -> None:
    manager, room, sockets = await _room_of(hub, app, 3)
    server = app.context.hub_control.hub.sio
    # Closed under the manager's feet, before its disconnect has run: its send raises.
    closed = server.eio.sockets[server.manager.eio_sid_from_sid(sockets[1].sid, NAMESPACE)]
    closed.closed = True

    await manager.emit("hub:direct", {"n": 1}, namespace=NAMESPACE, room=room)

    assert await sockets[0].next("hub:direct") == {"n": 1}
    assert await sockets[2].next("hub:direct") == {"n": 1}
    closed.closed = False  # let the fixture close it as usual
