"""Outgoing events in tests: reading the outbox table, and one run of changes that makes every
event type once (through the real REST routes and hub sockets)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import select

from tests.support.conversations import EnrollmentSpec, open_student_tutor, put_enrollment
from tests.support.sockets import Sockets
from tests.support.users import User
from tutorhub_messaging.db.models import OutboxEvent

GUIDE_PATH = "/v1/v1/chat-messages"


async def outbox_rows(app: Any) -> list[OutboxEvent]:
    async with app.context.db.unit_of_work() as uow:
        return list(await uow.session.scalars(select(OutboxEvent).order_by(OutboxEvent.seq)))


async def outbox_events(app: Any) -> list[dict[str, Any]]:
    """Every event in the outbox, oldest first, as webhooks send it."""
    return [json.loads(row.payload) for row in await outbox_rows(app)]


@dataclass
class Story:
    """What the REST API and the hub answered during ``every_kind_of_change``."""

    room: str
    created: dict[str, Any]  # the conversation when the enrollment opened it
    closed: dict[str, Any]  # the conversation when the enrollment ended
    offline_message: dict[str, Any]  # sent while the tutor had no socket in the room
    online_message: dict[str, Any]  # sent while the tutor had one
    edited: dict[str, Any]
    deleted: dict[str, Any]
    read_at: str


async def every_kind_of_change(
    client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User, super_admin: User
) -> Story:
    spec = EnrollmentSpec(student, tutor)
    created = await open_student_tutor(client, spec)  # conversation.created
    room = created["id"]
    sender = await hub.connect(student)
    await sender.join(room)
    offline = (await sender.send(room, "hello"))["message"]  # chatMessage.created, tutor offline
    receiver = await hub.connect(tutor)
    await receiver.join(room)
    online = (await sender.send(room, "are you there?"))["message"]  # chatMessage.created, online
    response = await client.patch(
        f"{GUIDE_PATH}/{offline['id']}", headers=student.headers, json={"content": {"body": "hello!"}}
    )
    assert response.status_code == 200, response.text
    edited = response.json()["chatMessage"]  # chatMessage.updated
    response = await client.delete(f"{GUIDE_PATH}/{online['id']}", headers=student.headers)
    assert response.status_code == 200, response.text
    deleted = response.json()["chatMessage"]  # chatMessage.deleted
    moderator = await hub.connect(super_admin)
    ack = await moderator.call("hub:silence", {"roomId": room, "userId": tutor.id, "reason": "Cool down"})
    assert ack == {"success": True}  # chatModeration.created
    ack = await moderator.call("hub:unsilence", {"roomId": room, "userId": tutor.id})
    assert ack == {"success": True}  # chatModeration.deleted
    ack = await receiver.call("hub:event", {"roomId": room, "event": "messageRead", "data": {}})
    assert ack == {"success": True}  # readState.updated
    read = await sender.next("hub:messageRead")
    response = await put_enrollment(client, spec, status="completed")  # conversation.updated
    assert response.status_code == 200, response.text
    closed = response.json()["conversation"]
    return Story(room, created, closed, offline, online, edited, deleted, read["lastReadTimestamp"])


def check_story_events(events: list[dict[str, Any]], story: Story, student: User, tutor: User) -> None:
    """The events of ``every_kind_of_change``, in commit order, each with the REST API's records."""
    assert [e["type"] for e in events] == [
        "conversation.created",
        "chatMessage.created",
        "chatMessage.created",
        "chatMessage.updated",
        "chatMessage.deleted",
        "chatModeration.created",
        "chatModeration.deleted",
        "readState.updated",
        "conversation.updated",
    ]
    assert len({e["id"] for e in events}) == len(events)
    for event in events:
        assert set(event) >= {"id", "type", "occurredAt", "data"}
        assert event["occurredAt"].endswith("Z")
    created, offline, online, edited, deleted, silenced, lifted, read, closed = events
    assert created["data"] == story.created
    assert offline["data"] == story.offline_message
    assert offline["recipients"] == [{"userId": tutor.id, "online": False}]
    assert online["data"] == story.online_message
    assert online["recipients"] == [{"userId": tutor.id, "online": True}]
    assert edited["data"] == story.edited
    assert edited["previous"] == story.offline_message
    assert edited["data"]["content"] == {"body": "hello!"}
    assert deleted["data"] == story.deleted
    assert deleted["data"]["isActive"] is False
    assert silenced["data"]["action"] == "silenced"
    assert silenced["data"]["userId"] == tutor.id
    assert silenced["data"]["roomId"] == story.room
    assert silenced["data"]["reason"] == "Cool down"
    assert silenced["data"]["isActive"] is True
    assert lifted["data"]["id"] == silenced["data"]["id"]
    assert lifted["data"]["isActive"] is False
    assert read["data"] == {"roomId": story.room, "userId": tutor.id, "lastReadTimestamp": story.read_at}
    assert "previous" not in read  # the tutor had never read the room
    assert closed["data"] == story.closed
    assert closed["data"]["status"] == "closed"
    assert closed["previous"]["status"] == "active"
    assert closed["previous"]["id"] == story.room
    for event in (created, offline, online, edited, deleted, silenced, lifted, read, closed):
        assert "recipients" in event if event["type"] == "chatMessage.created" else "recipients" not in event


async def room_order(app: Any) -> dict[str, list[str]]:
    """Each room's event ids in commit order (what an endpoint must receive them in)."""
    order: dict[str, list[str]] = {}
    for row in await outbox_rows(app):
        order.setdefault(row.aggregateid, []).append(row.id)
    return order


def received_per_room(events: list[dict[str, Any]], rooms: dict[str, list[str]]) -> dict[str, list[str]]:
    """The ids an endpoint acknowledged, per room, in arrival order."""
    room_of = {event_id: room for room, ids in rooms.items() for event_id in ids}
    received: dict[str, list[str]] = {}
    for event in events:
        received.setdefault(room_of[event["id"]], []).append(event["id"])
    return received
