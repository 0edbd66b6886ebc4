"""``serve --workers N``: N processes on one port share the hub through Redis (websocket clients;
polling needs sticky sessions, which one shared port cannot give: see docs/deployment.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.scaleout.conftest import ProcessFactory
from tests.support.hub_rooms import create_room
from tests.support.sockets import Sockets
from tests.support.users import User


def worker_pids(parent: int) -> list[int]:
    """The parent's worker processes (not multiprocessing's resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


async def test_workers_on_one_port_deliver_to_every_socket(
    app: Any, processes: ProcessFactory, student: User, tutor: User
) -> None:
    service = processes()
    service.args = ("--workers", "2")
    await service.start()
    assert service.process is not None
    assert len(worker_pids(service.process.pid)) == 2
    room = await create_room(app, student, tutor)
    async with Sockets(service.url) as sockets:
        # Enough connections that the kernel hands them to both workers.
        listeners = [await sockets.connect(tutor if i % 2 else student) for i in range(8)]
        for listener in listeners:
            await listener.join(room)
        ack = await listeners[0].send(room, "to every worker")
        assert ack["success"] is True
        for listener in listeners:
            arrived = await listener.next(
                "hub:messageArrived", lambda p: p["message"]["id"] == ack["message"]["id"]
            )
            assert arrived["roomId"] == room
