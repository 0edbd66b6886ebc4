"""The hub's Prometheus metrics, read from GET /metrics while real sockets use the hub."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.hub_rooms import create_room
from tests.support.sockets import HubClient, Sockets
from tests.support.users import User


async def _sample(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    response = await client.get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def _both_in_a_room(
    app: Any, hub: Sockets, student: User, tutor: User
) -> tuple[str, HubClient, HubClient]:
    """A room of the two, each with a socket joined to it: (room, student's, tutor's)."""
    room = await create_room(app, student, tutor)
    tutor_socket = await hub.connect(tutor)
    student_socket = await hub.connect(student)
    await tutor_socket.join(room)
    await student_socket.join(room)
    return room, student_socket, tutor_socket


async def test_connections_and_joined_rooms_are_counted_up_and_down(
    app: Any, hub: Sockets, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    sockets_before = await _sample(client, "messaging_hub_sockets_connected")
    rooms_before = await _sample(client, "messaging_hub_room_memberships")

    tutor_socket = await hub.connect(tutor)
    student_socket = await hub.connect(student)
    await tutor_socket.join(room)
    await student_socket.join(room)
    await tutor_socket.next("hub:presence")

    assert await _sample(client, "messaging_hub_sockets_connected") == sockets_before + 2
    assert await _sample(client, "messaging_hub_room_memberships") == rooms_before + 2

    await student_socket.disconnect()
    await tutor_socket.next("hub:presence", lambda p: p["event"] == "left")
    assert await _sample(client, "messaging_hub_sockets_connected") == sockets_before + 1
    assert await _sample(client, "messaging_hub_room_memberships") == rooms_before + 1


async def test_messages_in_and_out_and_send_latency_are_counted(
    app: Any, hub: Sockets, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await _both_in_a_room(app, hub, student, tutor)
    messages_in = await _sample(client, "messaging_hub_messages_in_total", via="socket")
    messages_out = await _sample(client, "messaging_hub_messages_out_total")
    latencies = await _sample(client, "messaging_hub_send_to_broadcast_seconds_count")

    await student_socket.send(room, "counted")
    await tutor_socket.next("hub:messageArrived")

    assert await _sample(client, "messaging_hub_messages_in_total", via="socket") == messages_in + 1
    assert await _sample(client, "messaging_hub_messages_out_total") == messages_out + 2  # both sockets
    assert await _sample(client, "messaging_hub_send_to_broadcast_seconds_count") == latencies + 1


async def test_hub_errors_are_counted_by_code(hub: Sockets, client: httpx.AsyncClient, student: User) -> None:
    before = await _sample(client, "messaging_hub_errors_total", code="INVALID_PAYLOAD")
    socket = await hub.connect(student)

    await socket.emit("hub:join", "not an object")
    await socket.error("INVALID_PAYLOAD")

    assert await _sample(client, "messaging_hub_errors_total", code="INVALID_PAYLOAD") == before + 1


async def test_each_stage_of_a_send_and_its_group_commit_are_timed(
    app: Any, hub: Sockets, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    """Receipt to ack in four stages, so a latency tail shows which one it comes from."""
    room, student_socket, tutor_socket = await _both_in_a_room(app, hub, student, tutor)
    stages = ("wait", "store", "broadcast", "ack")
    before = {s: await _sample(client, "messaging_hub_send_stage_seconds_count", stage=s) for s in stages}
    batches = await _sample(client, "messaging_hub_send_batch_size_count")
    batched = await _sample(client, "messaging_hub_send_batch_size_sum")

    await student_socket.send(room, "one")
    await tutor_socket.send(room, "two")

    for stage in stages:
        count = await _sample(client, "messaging_hub_send_stage_seconds_count", stage=stage)
        assert count == before[stage] + 2, stage
    # Sent one after another: two group commits of one send each.
    assert await _sample(client, "messaging_hub_send_batch_size_count") == batches + 2
    assert await _sample(client, "messaging_hub_send_batch_size_sum") == batched + 2


async def test_event_loop_lag_and_garbage_collections_are_timed(app: Any, client: httpx.AsyncClient) -> None:
    for hook in app.context.on_startup:  # the test server runs without a lifespan
        await hook()
    try:
        lag_samples = await _sample(client, "messaging_event_loop_lag_seconds_count")
        collections = await _sample(client, "messaging_gc_pause_seconds_count", generation="2")
        await asyncio.sleep(0.3)
        gc.collect()

        assert await _sample(client, "messaging_event_loop_lag_seconds_count") >= lag_samples + 3
        assert await _sample(client, "messaging_gc_pause_seconds_count", generation="2") >= collections + 1
    finally:
        for hook in app.context.on_shutdown:
            await hook()
