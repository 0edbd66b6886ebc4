"""Webhooks delivered by ``tutorhub-messaging deliver``, a process of its own, beside a service
started with ``MESSAGING_WEBHOOK_DELIVERY=separate``: the service only writes the outbox; the
delivery process sends everything in room order, counts it on its own ``/metrics``, stops cleanly
on SIGTERM, and after a SIGKILL mid-dispatch a new one delivers the rest."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.scaleout.conftest import ProcessFactory
from tests.support.events import received_per_room, room_order
from tests.support.hub_rooms import create_room
from tests.support.processes import ServiceProcess
from tests.support.users import User
from tests.support.webhooks import Receiver, webhook_env

SEPARATE = {"MESSAGING_WEBHOOK_DELIVERY": "separate", "MESSAGING_MESSAGE_RATE_PER_MINUTE": "100000"}


Deliverer = Callable[[], Awaitable[ServiceProcess]]


@pytest.fixture
async def deliverer(database_url: str, receiver: Receiver) -> AsyncIterator[Deliverer]:
    """Starts ``deliver`` processes for the receiver; all stopped at the end."""
    started: list[ServiceProcess] = []

    async def start() -> ServiceProcess:
        process = ServiceProcess.deliver({"MESSAGING_DATABASE_URL": database_url, **webhook_env(receiver)})
        started.append(process)
        await process.start()
        return process

    yield start
    for process in started:
        process.stop()


async def _outbox_written_by_a_separate_service(
    app: Any, processes: ProcessFactory, receiver: Receiver
) -> tuple[ServiceProcess, dict[str, list[str]]]:
    """A service with ``separate`` delivery that stored 5 messages in each of 4 rooms, and each
    room's event ids."""
    service = processes(**webhook_env(receiver), **SEPARATE)
    await service.start()
    await _chat(app, service, rooms=4, per_room=5)
    expected = await room_order(app)
    assert sum(len(ids) for ids in expected.values()) == 20
    return service, expected


async def _chat(app: Any, service: ServiceProcess, rooms: int, per_room: int) -> None:
    pairs = []
    for _ in range(rooms):
        student, tutor = User("student"), User("tutor")
        pairs.append((await create_room(app, student, tutor), student))
    async with httpx.AsyncClient(base_url=service.url) as client:
        for index in range(per_room):
            for room, sender in pairs:
                response = await client.post(
                    f"/chat/{room}/messages", headers=sender.headers, json={"data": {"body": f"m{index}"}}
                )
                assert response.status_code == 201, response.text


def _metric(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.split()[-1])
    return 0.0


async def test_the_service_only_writes_and_the_deliver_process_sends_everything_in_room_order(
    app: Any, processes: ProcessFactory, receiver: Receiver, deliverer: Deliverer
) -> None:
    service, expected = await _outbox_written_by_a_separate_service(app, processes, receiver)
    all_ids = {event_id for ids in expected.values() for event_id in ids}
    await asyncio.sleep(1.0)  # the service's own poll interval here is 0.05 s: it would have sent
    assert receiver.requests == []

    sender = await deliverer()

    await receiver.wait_until(lambda: receiver.delivered_ids() >= all_ids, within=30)
    assert sorted(event["id"] for event in receiver.delivered) == sorted(all_ids)
    assert received_per_room(receiver.delivered, expected) == expected
    async with httpx.AsyncClient() as client:
        metrics = (await client.get(sender.url + "/metrics")).text
        service_metrics = (await client.get(service.url + "/metrics")).text
    attempts = 'messaging_webhook_attempts_total{outcome="delivered"}'
    assert _metric(metrics, attempts) == 20
    assert _metric(service_metrics, attempts) == 0

    assert sender.process is not None
    sender.process.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(sender.process.wait, 15) == 0


async def test_a_deliver_process_killed_mid_dispatch_is_replaced_and_nothing_is_lost(
    app: Any, processes: ProcessFactory, receiver: Receiver, deliverer: Deliverer
) -> None:
    _, expected = await _outbox_written_by_a_separate_service(app, processes, receiver)
    all_ids = {event_id for ids in expected.values() for event_id in ids}
    receiver.delay = 0.3  # dispatch is still going on when the process dies
    doomed = await deliverer()
    await receiver.wait_until(lambda: len(receiver.delivered) >= 3)

    doomed.kill()
    assert len(receiver.delivered_ids()) < 20
    receiver.delay = 0.0
    await deliverer()

    await receiver.wait_until(lambda: receiver.delivered_ids() >= all_ids, within=30)
    assert receiver.delivered_ids() == all_ids
    assert receiver.overlaps == []
    bodies: dict[str, bytes] = {}
    for request in receiver.requests:  # a repeat is the same event, same body
        assert bodies.setdefault(request.event["id"], request.raw) == request.raw


async def test_deliver_refuses_to_start_without_webhook_urls(database_url: str) -> None:
    process = ServiceProcess.deliver({"MESSAGING_DATABASE_URL": database_url})
    with pytest.raises(RuntimeError, match="MESSAGING_WEBHOOK_URLS is empty"):
        await process.start()
