"""listMyConversations: the caller's conversations, newest message first, with unread counts."""

from __future__ import annotations

import asyncio
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.conversations import (
    EnrollmentSpec,
    open_admin_channel,
    open_student_tutor,
    put_enrollment,
    store_text,
)
from tests.support.statements import statements_sent
from tests.support.users import User
from tutorhub_messaging.conversations.repository import ConversationRepository
from tutorhub_messaging.conversations.schemas import InboxEnvelope
from tutorhub_messaging.messages.read_state_repository import ReadStateRepository

T0 = datetime(2025, 1, 1, tzinfo=UTC)


async def inbox(client: httpx.AsyncClient, user: User, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/myconversations", headers=user.headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    InboxEnvelope.model_validate(body)
    return body


async def set_last_message_time(app: Any, conversation_id: str, at: datetime) -> None:
    async with app.context.db.unit_of_work() as uow:
        await ConversationRepository(uow.session).record_last_message(conversation_id, at, "earlier")


async def open_channels(client: httpx.AsyncClient, target: User, count: int) -> list[dict[str, Any]]:
    return [await open_admin_channel(client, User("admin"), target) for _ in range(count)]


async def test_order_is_last_message_descending_then_never_messaged_newest_first(
    app: Any, client: httpx.AsyncClient, student: User
) -> None:
    quiet_old, messaged_early, quiet_new, messaged_late = await open_channels(client, student, 4)
    await set_last_message_time(app, messaged_early["id"], T0)
    await set_last_message_time(app, messaged_late["id"], T0 + timedelta(minutes=5))
    body = await inbox(client, student)
    assert [c["id"] for c in body["conversations"]] == [
        messaged_late["id"],
        messaged_early["id"],
        quiet_new["id"],
        quiet_old["id"],
    ]
    assert body["action"] == "list"
    assert body["dataName"] == "conversations"
    assert body["rowCount"] == 4
    assert body["filters"] == [] and body["uiPermissions"] == []


async def test_a_new_message_moves_its_conversation_to_the_top(
    app: Any, client: httpx.AsyncClient, admin: User, student: User
) -> None:
    first = await open_admin_channel(client, admin, student)
    second = await open_admin_channel(client, User("admin"), student)
    await set_last_message_time(app, second["id"], T0)
    await store_text(app, first["id"], admin, "newest")
    body = await inbox(client, student)
    assert [c["id"] for c in body["conversations"]] == [first["id"], second["id"]]
    assert body["conversations"][0]["lastMessagePreview"] == "newest"


async def test_only_the_callers_conversations_are_listed(
    client: httpx.AsyncClient, admin: User, student: User, tutor: User, stranger: User
) -> None:
    as_b = await open_admin_channel(client, admin, student)
    as_a = await open_student_tutor(client, EnrollmentSpec(student, tutor))
    await open_admin_channel(client, admin, tutor, "adminTutor")
    body = await inbox(client, student)
    assert {c["id"] for c in body["conversations"]} == {as_b["id"], as_a["id"]}
    assert (await inbox(client, stranger))["conversations"] == []


async def test_closed_conversations_stay_in_the_inbox(
    client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    await open_student_tutor(client, spec)
    await put_enrollment(client, spec, status="cancelled")
    [item] = (await inbox(client, student))["conversations"]
    assert item["status"] == "closed"
    assert item["status_idx"] == 1


async def test_unread_counts_exclude_own_messages_and_follow_read_state(
    app: Any, client: httpx.AsyncClient, admin: User, tutor: User
) -> None:
    conversation = await open_admin_channel(client, admin, tutor, "adminTutor")
    room = conversation["id"]
    await store_text(app, room, tutor, "question")
    # Sending marks the room read for the sender at that millisecond: later messages must be later.
    await asyncio.sleep(0.002)
    for text in ("one", "two", "three"):
        await store_text(app, room, admin, text)

    [for_tutor] = (await inbox(client, tutor))["conversations"]
    [for_admin] = (await inbox(client, admin))["conversations"]
    assert for_tutor["unreadCount"] == 3
    assert for_admin["unreadCount"] == 0  # the admin's last send marked everything read

    async with app.context.db.unit_of_work() as uow:
        await ReadStateRepository(uow.session).mark_read(
            room, tutor.id, datetime.now(UTC) + timedelta(seconds=1)
        )
    [for_tutor] = (await inbox(client, tutor))["conversations"]
    assert for_tutor["unreadCount"] == 0


async def test_unread_count_counts_everything_before_the_first_read(
    app: Any, client: httpx.AsyncClient, admin: User, student: User
) -> None:
    conversation = await open_admin_channel(client, admin, student)
    for text in ("a", "b"):
        await store_text(app, conversation["id"], admin, text)
    quiet = await open_admin_channel(client, User("admin"), student)
    items = {c["id"]: c for c in (await inbox(client, student))["conversations"]}
    assert items[conversation["id"]]["unreadCount"] == 2
    assert items[quiet["id"]]["unreadCount"] == 0


async def test_enrollment_is_an_array_in_the_list(
    client: httpx.AsyncClient, admin: User, student: User, tutor: User
) -> None:
    spec = EnrollmentSpec(student, tutor)
    linked = await open_student_tutor(client, spec)
    unlinked = await open_admin_channel(client, admin, student)
    items = {c["id"]: c for c in (await inbox(client, student))["conversations"]}
    assert items[linked["id"]]["enrollment"] == [
        {
            "coursePackId": spec.course_pack_id,
            "studentId": student.id,
            "tutorProfileId": spec.tutor_profile_id,
        }
    ]
    assert items[unlinked["id"]]["enrollment"] == []


async def test_paging_splits_the_inbox(app: Any, client: httpx.AsyncClient, student: User) -> None:
    channels = await open_channels(client, student, 5)
    for minutes, channel in enumerate(channels):
        await set_last_message_time(app, channel["id"], T0 + timedelta(minutes=minutes))
    newest_first = [c["id"] for c in reversed(channels)]

    first = await inbox(client, student, pageNumber=1, pageRowCount=2)
    assert [c["id"] for c in first["conversations"]] == newest_first[:2]
    assert first["paging"] == {"pageNumber": 1, "pageRowCount": 2, "totalRowCount": 5, "pageCount": 3}
    assert first["rowCount"] == 2
    third = await inbox(client, student, pageNumber=3, pageRowCount=2)
    assert [c["id"] for c in third["conversations"]] == newest_first[4:]
    beyond = await inbox(client, student, pageNumber=4, pageRowCount=2)
    assert beyond["conversations"] == []
    assert beyond["paging"]["totalRowCount"] == 5


async def test_default_paging_and_paging_off(client: httpx.AsyncClient, student: User) -> None:
    await open_channels(client, student, 3)
    default = await inbox(client, student)
    assert default["paging"] == {"pageNumber": 1, "pageRowCount": 25, "totalRowCount": 3, "pageCount": 1}
    everything = await inbox(client, student, pageNumber=0, pageRowCount=1)
    assert len(everything["conversations"]) == 3
    assert everything["paging"]["pageNumber"] == 0
    assert everything["paging"]["totalRowCount"] == 3


def count_statements(app: Any) -> AbstractContextManager[list[str]]:
    return statements_sent(app, lambda statement: statement.lstrip().upper().startswith(("SELECT", "WITH")))


async def test_inbox_queries_do_not_grow_with_the_page(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    await open_student_tutor(client, EnrollmentSpec(student, tutor))
    await inbox(client, student)  # the caller is now in the directory: no refresh in what is counted
    with count_statements(app) as small:
        await inbox(client, student)

    for _ in range(8):
        await open_student_tutor(client, EnrollmentSpec(student, User("tutor")))
    for channel in await open_channels(client, student, 4):
        await store_text(app, channel["id"], User("admin"), "hi")
    with count_statements(app) as large:
        body = await inbox(client, student)

    assert len(body["conversations"]) == 13
    assert len(large) == len(small)
