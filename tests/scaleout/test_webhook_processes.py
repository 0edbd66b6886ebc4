"""Webhooks from real service processes: a process killed in the middle of dispatching (after a
restart every event arrives, a repeat only with the same id), and two processes sharing the
database and Redis (every event delivered, each by one process: none twice, rooms in order)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.scaleout.conftest import ProcessFactory, start_two
from tests.support.events import received_per_room, room_order
from tests.support.hub_rooms import create_room
from tests.support.processes import ServiceProcess
from tests.support.users import User
from tests.support.webhooks import Receiver, webhook_env


async def _rooms(app: Any, count: int) -> list[tuple[str, User]]:
    rooms = []
    for _ in range(count):
        student, tutor = User("student"), User("tutor")
        rooms.append((await create_room(app, student, tutor), student))
    return rooms


async def _send(process: ServiceProcess, room: str, sender: User, body: str) -> None:
    async with httpx.AsyncClient(base_url=process.url) as client:
        response = await client.post(
            f"/chat/{room}/messages", headers=sender.headers, json={"data": {"body": body}}
        )
    assert response.status_code == 201, response.text


def _first_arrivals(receiver: Receiver) -> list[dict[str, Any]]:
    seen: set[str] = set()
    firsts = []
    for event in receiver.delivered:
        if event["id"] not in seen:
            seen.add(event["id"])
            firsts.append(event)
    return firsts


def _metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.split()[-1])
    return 0.0


async def test_a_process_killed_mid_dispatch_leaves_nothing_undelivered_after_a_restart(
    app: Any, processes: ProcessFactory, receiver: Receiver
) -> None:
    env = {**webhook_env(receiver), "MESSAGING_MESSAGE_RATE_PER_MINUTE": "100000"}
    doomed = processes(**env)
    await doomed.start()
    receiver.mode = "fail"  # nothing is acknowledged until every message is in
    rooms = await _rooms(app, 4)
    for index in range(5):
        for room, sender in rooms:
            await _send(doomed, room, sender, f"message {index}")
    receiver.delay = 0.3  # dispatch is still going on when the process dies
    receiver.mode = "ok"
    await receiver.wait_until(lambda: len(receiver.delivered) >= 3)

    doomed.kill()
    assert len(receiver.delivered_ids()) < 20
    receiver.delay = 0.0
    restarted = processes(**env)
    await restarted.start()

    expected = await room_order(app)
    all_ids = {event_id for ids in expected.values() for event_id in ids}
    assert len(all_ids) == 20
    assert receiver.overlaps == []
    await receiver.wait_until(lambda: receiver.delivered_ids() >= all_ids, within=30)
    assert receiver.delivered_ids() == all_ids
    # A repeat is the same event (same id, same body); each room's first arrivals are in order.
    bodies: dict[str, bytes] = {}
    for request in receiver.requests:
        assert bodies.setdefault(request.event["id"], request.raw) == request.raw
    assert received_per_room(_first_arrivals(receiver), expected) == expected


async def test_two_processes_deliver_every_event_once_each_by_one_process(
    app: Any, processes: ProcessFactory, receiver: Receiver
) -> None:
    # The default timeout: a shorter one could expire on this busy machine after the receiver
    # answered, and the retry would be a (legitimate) second delivery.
    env = {
        **webhook_env(receiver, webhook_timeout_seconds=5.0, webhook_lease_seconds=10.0),
        "MESSAGING_MESSAGE_RATE_PER_MINUTE": "100000",
    }
    first, second = await start_two(processes, **env)
    rooms = await _rooms(app, 6)

    async def chat(room: str, sender: User) -> None:
        for index in range(6):  # each room's messages through both processes, in turn
            await _send(first if index % 2 else second, room, sender, f"message {index}")

    await asyncio.gather(*(chat(room, sender) for room, sender in rooms))

    expected = await room_order(app)
    all_ids = {event_id for ids in expected.values() for event_id in ids}
    assert len(all_ids) == 36
    await receiver.wait_until(lambda: receiver.delivered_ids() >= all_ids, within=30)
    await asyncio.sleep(0.3)  # time for a (wrong) second delivery to arrive
    assert receiver.overlaps == []  # never two deliveries of one event at a time
    assert sorted(e["id"] for e in receiver.delivered) == sorted(all_ids)  # none twice
    assert received_per_room(receiver.delivered, expected) == expected
    async with httpx.AsyncClient() as client:
        counts = [
            _metric(
                (await client.get(process.url + "/metrics")).text,
                'messaging_webhook_attempts_total{outcome="delivered"}',
            )
            for process in (first, second)
        ]
    assert sum(counts) == 36
