"""Signed webhooks against a real HTTP receiver: every event type, the signature recipe, retries
through a receiver that is down, failing or hanging (everything arrives afterwards, each room in
commit order), endpoints independent of each other, dead letters and their replay, event filters
and pruning."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.chat_rooms import assert_envelope_error
from tests.support.events import (
    check_story_events,
    every_kind_of_change,
    outbox_events,
    outbox_rows,
    received_per_room,
    room_order,
)
from tests.support.hub_rooms import create_room
from tests.support.sockets import HubClient, Sockets
from tests.support.users import User, service_headers
from tests.support.webhooks import WEBHOOK_SECRET, Receiver, verify_signature, webhook_settings

DELIVERIES = "/v1/m2m/webhook-deliveries"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "integration.md"


@pytest.fixture
async def second_receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
def settings_overrides(
    request: pytest.FixtureRequest, receiver: Receiver, second_receiver: Receiver
) -> dict[str, Any]:
    extra = dict(getattr(request, "param", {}))
    values = webhook_settings(receiver, **extra)
    if extra.pop("webhook_urls", None) == "both":
        values["webhook_urls"] = [receiver.url, second_receiver.url]
    if extra.get("webhook_host") == "localhost":  # cookie jars keep no cookies of IP addresses
        values.pop("webhook_host")
        values["webhook_urls"] = [receiver.url.replace("127.0.0.1", "localhost")]
    return values


@pytest.fixture(autouse=True)
async def worker(app: Any) -> AsyncIterator[None]:
    """The app's start and stop hooks (the test server runs without a lifespan): the worker."""
    for hook in app.context.on_startup:
        await hook()
    yield
    for hook in app.context.on_shutdown:
        await hook()


async def _chat(hub: Sockets, app: Any, rooms: int, per_room: int) -> list[str]:
    """``per_room`` messages in each of ``rooms`` rooms, interleaved; returns the room ids."""
    sockets: list[tuple[str, HubClient]] = []
    for _ in range(rooms):
        student, tutor = User("student"), User("tutor")
        room = await create_room(app, student, tutor)
        socket = await hub.connect(student)
        await socket.join(room)
        sockets.append((room, socket))
    for index in range(per_room):
        for room, socket in sockets:
            ack = await socket.send(room, f"message {index}")
            assert ack["success"] is True
    return [room for room, _ in sockets]


async def _all_arrive_in_room_order(app: Any, receiver: Receiver) -> None:
    expected = await room_order(app)
    total = sum(len(ids) for ids in expected.values())
    await receiver.wait_until(lambda: len(receiver.delivered_ids()) >= total)
    assert receiver.delivered_ids() == {event_id for ids in expected.values() for event_id in ids}
    assert received_per_room(receiver.delivered, expected) == expected


async def test_every_event_type_arrives_signed_with_the_outbox_payload(
    app: Any,
    client: httpx.AsyncClient,
    hub: Sockets,
    receiver: Receiver,
    student: User,
    tutor: User,
    super_admin: User,
) -> None:
    story = await every_kind_of_change(client, hub, student, tutor, super_admin)
    await receiver.wait_until(lambda: len(receiver.delivered) >= 9)

    check_story_events(receiver.delivered, story, student, tutor)
    assert receiver.delivered == await outbox_events(app)
    for request in receiver.requests:
        event = request.event
        assert set(event) <= {"id", "type", "occurredAt", "data", "previous", "recipients"}
        assert request.headers["X-TutorHub-Event-Id"] == event["id"]
        assert request.headers["X-TutorHub-Event-Type"] == event["type"]
        assert request.headers["Content-Type"] == "application/json"
        assert verify_signature(WEBHOOK_SECRET, request.raw, request.headers["X-TutorHub-Signature"])
    capture = os.environ.get("MESSAGING_TEST_CAPTURE_EVENTS")
    if capture:  # the catalogue in docs/integration.md shows a run's events
        await asyncio.to_thread(Path(capture).write_text, json.dumps(receiver.delivered, indent=2))


async def test_the_signature_fails_for_another_body_or_another_secret(
    app: Any, hub: Sockets, receiver: Receiver
) -> None:
    await _chat(hub, app, rooms=1, per_room=1)
    await receiver.wait_until(lambda: len(receiver.delivered) >= 1)
    request = receiver.requests[0]
    header = request.headers["X-TutorHub-Signature"]

    assert header.startswith("t=") and ",v1=" in header
    assert verify_signature(WEBHOOK_SECRET, request.raw, header)
    assert not verify_signature(WEBHOOK_SECRET, request.raw.replace(b"message 0", b"message 1"), header)
    assert not verify_signature("another-secret", request.raw, header)


def _documented(language: str, containing: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", DOCS.read_text(), re.S)
    return next(block for block in blocks if containing in block)


def _node_check(folder: Path, secret: str, raw: bytes, header: str) -> list[bool]:
    script = folder / "verify.js"
    script.write_text(
        _documented("js", "function verifySignature")
        + """
const [secret, body, header] = process.argv.slice(2);
const raw = Buffer.from(body, "base64");
const changed = Buffer.concat([raw, Buffer.from(" ")]);
console.log(JSON.stringify([
  verifySignature(secret, raw, header),
  verifySignature(secret, changed, header),
  verifySignature("another-secret", raw, header),
]));
"""
    )
    done = subprocess.run(
        ["node", str(script), secret, base64.b64encode(raw).decode(), header],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result: list[bool] = json.loads(done.stdout)
    return result


async def test_the_documented_python_and_node_recipes_verify_a_real_delivery(
    app: Any, hub: Sockets, receiver: Receiver, tmp_path: Path
) -> None:
    await _chat(hub, app, rooms=1, per_room=1)
    await receiver.wait_until(lambda: len(receiver.delivered) >= 1)
    request = receiver.requests[0]
    header = request.headers["X-TutorHub-Signature"]
    namespace: dict[str, Any] = {}
    exec(_documented("python", "def verify_signature"), namespace)
    verify = namespace["verify_signature"]

    assert verify(WEBHOOK_SECRET, request.raw, header) is True
    assert verify(WEBHOOK_SECRET, request.raw + b" ", header) is False
    assert verify("another-secret", request.raw, header) is False
    node = await asyncio.to_thread(_node_check, tmp_path, WEBHOOK_SECRET, request.raw, header)
    assert node == [True, False, False]


async def test_a_receiver_down_for_a_while_gets_everything_afterwards_in_room_order(
    app: Any, hub: Sockets, receiver: Receiver
) -> None:
    await receiver.stop()
    await _chat(hub, app, rooms=3, per_room=4)
    async with httpx.AsyncClient(base_url="http://testserver", transport=_asgi(app)) as api:
        await _wait_for_failed_attempts(api)

    await receiver.start()

    await _all_arrive_in_room_order(app, receiver)


async def test_a_receiver_answering_500_gets_everything_once_it_recovers_in_room_order(
    app: Any, client: httpx.AsyncClient, hub: Sockets, receiver: Receiver
) -> None:
    refused = 'messaging_webhook_attempts_total{outcome="refused"}'
    before = _metric((await client.get("/metrics")).text, refused)
    receiver.mode = "fail"
    await _chat(hub, app, rooms=3, per_room=4)
    await receiver.wait_until(lambda: sum(r.answered == 500 for r in receiver.requests) >= 6)
    # The worker counts an attempt once it has read the answer, a moment after the receiver sent it.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while _metric((await client.get("/metrics")).text, refused) - before < 6:
        assert loop.time() < deadline, "the refused attempts were not counted in /metrics"
        await asyncio.sleep(0.05)

    receiver.mode = "ok"

    await _all_arrive_in_room_order(app, receiver)
    # A room's next event was never sent before its previous one was acknowledged.
    expected = await room_order(app)
    for ids in expected.values():
        attempts = [r.event["id"] for r in receiver.requests if r.event["id"] in ids]
        assert attempts[: attempts.index(ids[0]) + 1] == [ids[0]] * (attempts.index(ids[0]) + 1)
        first_ok = next(
            i for i, r in enumerate(receiver.requests) if r.event["id"] == ids[0] and r.answered == 204
        )
        assert all(r.event["id"] != ids[1] for r in receiver.requests[:first_ok])


async def test_a_rooms_run_stops_at_a_failure_and_its_next_events_wait_for_the_retry(
    app: Any, client: httpx.AsyncClient, hub: Sockets, receiver: Receiver
) -> None:
    await receiver.stop()  # a backlog: the room's events are then leased and sent as one run
    (room,) = await _chat(hub, app, rooms=1, per_room=6)
    await _wait_for_failed_attempts(client)
    ids = (await room_order(app))[room]
    refused_once: set[str] = set()

    def fail_third_once(event: dict[str, Any]) -> str:
        if event["id"] == ids[3] and ids[3] not in refused_once:
            refused_once.add(ids[3])
            return "fail"
        return "ok"

    receiver.mode = fail_third_once
    await receiver.start()

    await _all_arrive_in_room_order(app, receiver)
    attempts = [(r.event["id"], r.answered) for r in receiver.requests if r.event["id"] in ids]
    refused = attempts.index((ids[3], 500))
    retried = attempts.index((ids[3], 204))
    # Nothing after the refused event went out before its retry was acknowledged.
    assert all(event_id == ids[3] for event_id, _ in attempts[refused : retried + 1])
    assert [event_id for event_id, status in attempts if status == 204] == ids


@pytest.mark.parametrize(
    "settings_overrides", [{"webhook_lease_seconds": 2.0, "webhook_timeout_seconds": 0.5}], indirect=True
)
async def test_a_rooms_run_longer_than_its_lease_gives_the_rest_back_and_nothing_is_sent_twice(
    app: Any, client: httpx.AsyncClient, hub: Sockets, receiver: Receiver
) -> None:
    await receiver.stop()
    (room,) = await _chat(hub, app, rooms=1, per_room=14)
    await _wait_for_failed_attempts(client)
    ids = (await room_order(app))[room]
    receiver.delay = 0.2  # the room's run would take ~3 s, longer than the 2 s lease
    await receiver.start()

    await _all_arrive_in_room_order(app, receiver)
    delivered = [event["id"] for event in receiver.delivered if event["id"] in ids]
    assert delivered == ids  # each exactly once, in order
    assert receiver.overlaps == []


async def test_a_hanging_request_holds_up_only_its_room(
    app: Any, client: httpx.AsyncClient, hub: Sockets, receiver: Receiver, student: User, tutor: User
) -> None:
    stuck_room = await create_room(app, student, tutor)
    socket = await hub.connect(student)
    await socket.join(stuck_room)
    receiver.mode = lambda event: "hang" if event["data"].get("roomId") == stuck_room else "ok"
    await socket.send(stuck_room, "first")
    await socket.send(stuck_room, "second")
    free_rooms = await _chat(hub, app, rooms=2, per_room=3)

    # The other rooms' events all arrive while the stuck room's first one hangs past the timeout.
    expected = await room_order(app)
    free_ids = {event_id for room in free_rooms for event_id in expected[room]}
    await receiver.wait_until(lambda: free_ids <= receiver.delivered_ids())
    await receiver.wait_until(lambda: sum(r.answered == 0 for r in receiver.requests) >= 2)
    hung = [r.event["id"] for r in receiver.requests if r.answered == 0]
    assert set(hung) == {expected[stuck_room][0]}  # retried after the timeout; the second waits
    metrics = (await client.get("/metrics")).text
    assert _metric(metrics, 'messaging_webhook_attempts_total{outcome="timeout"}') >= 1

    receiver.mode = "ok"

    await _all_arrive_in_room_order(app, receiver)


@pytest.mark.parametrize("settings_overrides", [{"webhook_urls": "both"}], indirect=True)
async def test_a_dead_endpoint_never_delays_another(
    app: Any, hub: Sockets, receiver: Receiver, second_receiver: Receiver
) -> None:
    second_receiver.mode = "hang"
    await _chat(hub, app, rooms=3, per_room=3)

    await _all_arrive_in_room_order(app, receiver)
    assert second_receiver.delivered == []

    second_receiver.mode = "ok"
    await _all_arrive_in_room_order(app, second_receiver)


@pytest.mark.parametrize("settings_overrides", [{"webhook_retry_budget_seconds": 0.6}], indirect=True)
async def test_a_delivery_past_its_retry_budget_is_dead_counted_listed_and_replayable(
    app: Any, client: httpx.AsyncClient, hub: Sockets, receiver: Receiver, student: User
) -> None:
    receiver.mode = "fail"
    await _chat(hub, app, rooms=2, per_room=2)
    ids = {event["id"] for event in await outbox_events(app)}
    dead = await _wait_for_dead(client, len(ids))
    assert {d["eventId"] for d in dead} == ids
    for delivery in dead:
        assert delivery["status"] == "dead"
        # The budget runs from the event's commit: an event that waited for its room's earlier
        # one may have had a single attempt left.
        assert delivery["attempts"] >= 1
        assert delivery["lastStatus"] == 500
        assert delivery["endpoint"] == receiver.url
    metrics = (await client.get("/metrics")).text
    assert _metric(metrics, "messaging_webhook_dead_letters_total") >= len(ids)

    receiver.mode = "ok"
    for delivery in sorted(dead, key=lambda d: d["id"]):
        response = await client.post(f"{DELIVERIES}/{delivery['id']}/replay", headers=service_headers())
        assert response.status_code == 200, response.text
        assert response.json()["webhookDelivery"]["status"] == "pending"

    await _all_arrive_in_room_order(app, receiver)
    await _wait_for_status(client, "delivered", len(ids))
    listed = await client.get(DELIVERIES, params={"status": "dead"}, headers=service_headers())
    assert listed.json()["webhookDeliveries"] == []

    again = await client.post(f"{DELIVERIES}/{dead[0]['id']}/replay", headers=service_headers())
    assert_envelope_error(again, 409, "errMsg_webhookDeliveryNotDead")


async def test_the_delivery_routes_are_for_services_only_and_check_their_input(
    client: httpx.AsyncClient, student: User
) -> None:
    as_user = await client.get(DELIVERIES, headers=student.headers)
    anonymous = await client.post(f"{DELIVERIES}/1/replay")
    bad_status = await client.get(DELIVERIES, params={"status": "lost"}, headers=service_headers())
    bad_id = await client.post(f"{DELIVERIES}/abc/replay", headers=service_headers())
    huge_id = await client.post(f"{DELIVERIES}/{'9' * 19}/replay", headers=service_headers())
    unknown = await client.post(f"{DELIVERIES}/12345/replay", headers=service_headers())

    assert as_user.status_code == 403
    assert anonymous.status_code == 401
    assert bad_status.status_code == 400
    assert bad_id.status_code == 400
    assert huge_id.status_code == 400
    assert unknown.status_code == 404


@pytest.mark.parametrize(
    "settings_overrides", [{"webhook_events": ["readState.updated", "chatMessage.created"]}], indirect=True
)
async def test_only_the_configured_event_types_are_sent(
    app: Any,
    client: httpx.AsyncClient,
    hub: Sockets,
    receiver: Receiver,
    student: User,
    tutor: User,
    super_admin: User,
) -> None:
    await every_kind_of_change(client, hub, student, tutor, super_admin)

    await receiver.wait_until(lambda: len(receiver.delivered_ids()) >= 3)
    await asyncio.sleep(0.3)  # time for anything else to (wrongly) arrive
    # Each event once, by its first arrival: a repeat (same id) is at-least-once delivery at work,
    # e.g. a 2xx that came after the 0.5 s timeout while the test's event loop was busy.
    first_arrivals = {e["id"]: e["type"] for e in receiver.delivered}
    assert list(first_arrivals.values()) == [
        "chatMessage.created",
        "chatMessage.created",
        "readState.updated",
    ]
    assert len(await outbox_events(app)) == 9  # the outbox keeps every event


@pytest.mark.parametrize("settings_overrides", [{"webhook_host": "localhost"}], indirect=True)
async def test_a_receivers_cookies_are_not_sent_back(app: Any, hub: Sockets, receiver: Receiver) -> None:
    """Deliveries carry the event and its signature, nothing a receiver asked to be kept."""
    receiver.sets_cookie = True
    await _chat(hub, app, rooms=1, per_room=3)
    await receiver.wait_until(lambda: len(receiver.delivered) >= 3)

    assert all("Cookie" not in request.headers for request in receiver.requests)


@pytest.mark.parametrize("settings_overrides", [{"outbox_retention_seconds": 0.5}], indirect=True)
async def test_delivered_events_are_pruned_after_the_retention(
    app: Any, hub: Sockets, receiver: Receiver
) -> None:
    await _chat(hub, app, rooms=1, per_room=3)
    await receiver.wait_until(lambda: len(receiver.delivered) >= 3)

    for _ in range(100):
        if not await outbox_rows(app):
            break
        await asyncio.sleep(0.1)
    assert await outbox_rows(app) == []


def _asgi(app: Any) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app)


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


async def _deliveries(client: httpx.AsyncClient, status: str) -> list[dict[str, Any]]:
    response = await client.get(
        DELIVERIES, params={"status": status, "pageRowCount": 500}, headers=service_headers()
    )
    assert response.status_code == 200, response.text
    deliveries: list[dict[str, Any]] = response.json()["webhookDeliveries"]
    return deliveries


async def _wait_for_status(client: httpx.AsyncClient, status: str, count: int) -> list[dict[str, Any]]:
    for _ in range(200):
        found = await _deliveries(client, status)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} {status} deliveries: {await _deliveries(client, status)}")


async def _wait_for_dead(client: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    return await _wait_for_status(client, "dead", count)


async def _wait_for_failed_attempts(client: httpx.AsyncClient) -> None:
    for _ in range(200):
        pending = await _deliveries(client, "pending")
        if any(d["attempts"] >= 2 for d in pending):
            assert all(d["lastStatus"] is None and d["lastError"] for d in pending if d["attempts"])
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no failed attempt was recorded")
