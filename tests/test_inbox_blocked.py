"""A participant blocked in a room sees it, in their inbox and in getConversation, as it stood when
the block was issued: no preview, time or unread count of what was sent after it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.conversations import open_admin_channel, store_text
from tests.support.users import User
from tutorhub_messaging.moderation.service import apply_action, lift_action


async def inbox_items(client: httpx.AsyncClient, user: User, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/myconversations", headers=user.headers, params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["conversations"]
    return items


async def conversation(client: httpx.AsyncClient, user: User, room: str) -> dict[str, Any]:
    response = await client.get(f"/v1/conversations/{room}", headers=user.headers)
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()["conversation"]
    return record


async def later() -> None:
    """Stored times have millisecond precision: let the clock move past the last one."""
    await asyncio.sleep(0.005)


async def block(app: Any, room: str, user: User, by: User) -> None:
    async with app.context.db.unit_of_work() as uow:
        await apply_action(
            uow.session, room_id=room, user_id=user.id, action="blocked", reason=None, duration=0,
            issued_by=by.id,
        )  # fmt: skip


async def test_a_blocked_participant_sees_the_room_as_it_stood_at_the_block(
    app: Any, client: httpx.AsyncClient, admin: User, student: User, super_admin: User
) -> None:
    blocked_room = (await open_admin_channel(client, admin, student))["id"]
    other_room = (await open_admin_channel(client, User("admin"), student))["id"]
    await store_text(app, blocked_room, admin, "before one")
    await later()
    before = await store_text(app, blocked_room, admin, "before two")
    await later()
    await block(app, blocked_room, student, super_admin)
    await later()
    await store_text(app, other_room, admin, "elsewhere")
    await later()
    after = await store_text(app, blocked_room, admin, "sent after the block")

    items = await inbox_items(client, student)
    assert [item["id"] for item in items] == [other_room, blocked_room]
    frozen = items[1]
    assert frozen["lastMessagePreview"] == "before two"
    assert frozen["lastMessageAt"] == before["timestamp"]
    assert frozen["unreadCount"] == 2
    paged = [await inbox_items(client, student, pageNumber=n, pageRowCount=1) for n in (1, 2)]
    assert [page[0]["id"] for page in paged] == [other_room, blocked_room]
    assert paged[1][0]["lastMessagePreview"] == "before two"
    record = await conversation(client, student, blocked_room)
    assert (record["lastMessagePreview"], record["lastMessageAt"]) == ("before two", before["timestamp"])

    # Everyone else sees the room whole, admins reading it included.
    whole = await conversation(client, admin, blocked_room)
    assert (whole["lastMessagePreview"], whole["lastMessageAt"]) == (
        "sent after the block",
        after["timestamp"],
    )
    assert (await conversation(client, super_admin, blocked_room))[
        "lastMessagePreview"
    ] == "sent after the block"

    async with app.context.db.unit_of_work() as uow:
        assert await lift_action(uow.session, room_id=blocked_room, user_id=student.id, action="blocked")
    items = await inbox_items(client, student)
    assert [item["id"] for item in items] == [blocked_room, other_room]
    assert items[0]["lastMessagePreview"] == "sent after the block"
    assert items[0]["unreadCount"] == 3


async def test_a_block_before_any_message_shows_an_empty_room(
    app: Any, client: httpx.AsyncClient, admin: User, student: User, super_admin: User
) -> None:
    room = (await open_admin_channel(client, admin, student))["id"]
    await block(app, room, student, super_admin)
    await later()
    await store_text(app, room, admin, "not for the blocked")

    [item] = await inbox_items(client, student)
    assert (item["lastMessagePreview"], item["lastMessageAt"], item["unreadCount"]) == (None, None, 0)
    record = await conversation(client, student, room)
    assert (record["lastMessagePreview"], record["lastMessageAt"]) == (None, None)
