"""The transactional outbox: every committed change writes its events in its own transaction,
with the REST API's records; a change that rolls back writes none."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.support.events import check_story_events, every_kind_of_change, outbox_events, outbox_rows
from tests.support.hub_rooms import create_room
from tests.support.sockets import Sockets
from tests.support.users import User
from tutorhub_messaging import outbox


async def test_every_change_writes_its_event_with_the_rest_records(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    story = await every_kind_of_change(client, hub, student, tutor, super_admin)

    check_story_events(await outbox_events(app), story, student, tutor)


async def test_outbox_rows_carry_the_columns_the_debezium_router_reads(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User, super_admin: User
) -> None:
    story = await every_kind_of_change(client, hub, student, tutor, super_admin)

    rows = await outbox_rows(app)
    events = await outbox_events(app)
    for row, event in zip(rows, events, strict=True):
        assert row.id == event["id"]
        assert row.type == event["type"]
        assert row.aggregatetype == "conversation"
        assert row.aggregateid == story.room  # a room's events share a key: one partition, in order


async def test_a_change_that_rolls_back_writes_no_event(app: Any, student: User, tutor: User) -> None:
    room = await create_room(app, student, tutor)
    with pytest.raises(RuntimeError):
        async with app.context.db.unit_of_work() as uow:
            outbox.record(uow, type=outbox.CONVERSATION_UPDATED, aggregate_id=room, data={"id": room})
            raise RuntimeError("the work failed after recording its event")

    assert await outbox_events(app) == []


async def test_a_refused_call_writes_no_event(
    app: Any, client: httpx.AsyncClient, hub: Sockets, student: User, tutor: User, stranger: User
) -> None:
    room, student_socket, _ = await hub.joined_pair(app, student, tutor)
    message = (await student_socket.send(room, "mine"))["message"]
    before = await outbox_events(app)

    edit = await client.patch(
        f"/v1/v1/chat-messages/{message['id']}", headers=tutor.headers, json={"content": {"body": "x"}}
    )
    refused = await student_socket.call(
        "hub:send", {"roomId": room, "messageType": "text", "content": {"body": ""}}
    )
    intruder = await hub.connect(stranger)
    outsider = await intruder.call(
        "hub:send", {"roomId": room, "messageType": "text", "content": {"body": "let me in"}}
    )

    assert edit.status_code == 403
    assert refused["success"] is False
    assert outsider["success"] is False
    assert await outbox_events(app) == before


async def test_a_batch_of_hub_sends_writes_one_event_per_message_in_order(
    app: Any, hub: Sockets, student: User, tutor: User
) -> None:
    room, student_socket, tutor_socket = await hub.joined_pair(app, student, tutor)
    other_room = await create_room(app, student, User("tutor"))
    await student_socket.join(other_room)

    # Sent without waiting for acks: the group commit stores them in a few batches.
    acks = await _send_all(
        student_socket, [(room if i % 2 else other_room, f"message {i}") for i in range(30)]
    )
    tutor_replies = await _send_all(tutor_socket, [(room, f"reply {i}") for i in range(5)])

    events = [e for e in await outbox_events(app) if e["type"] == "chatMessage.created"]
    by_id = {e["data"]["id"]: e for e in events}
    assert len(events) == 35
    for ack in acks + tutor_replies:
        assert by_id[ack["message"]["id"]]["data"] == ack["message"]
    for ack in acks:
        recipients = by_id[ack["message"]["id"]]["recipients"]
        assert len(recipients) == 1
        assert recipients[0]["online"] is (ack["message"]["roomId"] == room)
    for ack in tutor_replies:
        assert by_id[ack["message"]["id"]]["recipients"] == [{"userId": student.id, "online": True}]
    # Commit order is send order, within each room and overall.
    assert [e["data"]["id"] for e in events] == [a["message"]["id"] for a in acks + tutor_replies]


async def _send_all(socket: Any, sends: list[tuple[str, str]]) -> list[dict[str, Any]]:
    calls = [
        socket.call("hub:send", {"roomId": r, "messageType": "text", "content": {"body": body}})
        for r, body in sends
    ]
    acks: list[dict[str, Any]] = await asyncio.gather(*calls)
    assert all(ack["success"] for ack in acks), acks
    return acks
