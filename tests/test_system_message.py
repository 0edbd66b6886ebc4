"""sendSystemMessage: M2M warnings land in the admin channel, stored, previewed and pushed live."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
import socketio

from tests.support.conversations import assert_error
from tests.support.users import User, service_headers
from tutorhub_messaging.conversations.schemas import SystemMessageEnvelope
from tutorhub_messaging.messages.repository import MessageRepository
from tutorhub_messaging.settings import DEFAULT_SYSTEM_ADMIN_ID


def warning_body(target: User, role: str = "student", **extra: Any) -> dict[str, Any]:
    return {"targetUserId": target.id, "targetUserRole": role, "messageContent": "Please be polite.", **extra}


async def send(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/sendsystemmessage", headers=service_headers(), json=body)


async def room_messages(app: Any, room_id: str) -> list[Any]:
    async with app.context.db.unit_of_work() as uow:
        return await MessageRepository(uow.session).latest_for_room(room_id, 50)


@pytest.mark.parametrize(("role", "channel"), [("student", "adminStudent"), ("tutor", "adminTutor")])
async def test_warning_opens_the_admin_channel_for_the_targets_role(
    app: Any, client: httpx.AsyncClient, role: str, channel: str
) -> None:
    target = User(role)
    response = await send(client, warning_body(target, role))
    assert response.status_code == 201
    body = response.json()
    SystemMessageEnvelope.model_validate(body)
    assert body["statusCode"] == 201
    assert body["dataName"] == "conversation"
    assert body["action"] == "create"
    conversation = body["conversation"]
    assert conversation["conversationType"] == channel
    assert conversation["participantA"] == DEFAULT_SYSTEM_ADMIN_ID
    assert conversation["participantB"] == target.id
    assert conversation["participantAName"] == "TutorHub Admin"
    assert conversation["lastMessagePreview"] == "Please be polite."
    assert conversation["lastMessageAt"] == body["chatMessage"]["timestamp"]
    assert conversation["_owner"] == DEFAULT_SYSTEM_ADMIN_ID


async def test_the_warning_is_stored_with_default_severity(
    app: Any, client: httpx.AsyncClient, student: User
) -> None:
    body = (await send(client, warning_body(student))).json()
    [stored] = await room_messages(app, body["conversation"]["id"])
    assert stored.message_type == "warning"
    assert stored.content == {"body": "Please be polite.", "severity": "warning"}
    assert stored.sender_id == DEFAULT_SYSTEM_ADMIN_ID
    assert stored.sender_name == "TutorHub Admin"
    assert body["chatMessage"]["id"] == stored.id


async def test_resolution_complaint_and_severity_are_kept(
    app: Any, client: httpx.AsyncClient, tutor: User
) -> None:
    complaint = str(uuid.uuid4())
    extra = {"severity": "critical", "resolutionType": "suspend", "complaintId": complaint}
    body = (await send(client, warning_body(tutor, "tutor", **extra))).json()
    assert body["chatMessage"]["content"] == {
        "body": "Please be polite.",
        "severity": "critical",
        "resolutionType": "suspend",
        "complaintId": complaint,
    }


async def test_later_warnings_reuse_the_channel(app: Any, client: httpx.AsyncClient, student: User) -> None:
    first = (await send(client, warning_body(student))).json()
    second = (await send(client, warning_body(student, messageContent="Second notice"))).json()
    assert second["conversation"]["id"] == first["conversation"]["id"]
    assert second["conversation"]["lastMessagePreview"] == "Second notice"
    assert len(await room_messages(app, first["conversation"]["id"])) == 2


async def test_target_sees_the_warning_unread_in_the_inbox(client: httpx.AsyncClient, student: User) -> None:
    await send(client, warning_body(student))
    inbox = await client.get("/v1/myconversations", headers=student.headers)
    [item] = inbox.json()["conversations"]
    assert item["unreadCount"] == 1
    assert item["lastMessagePreview"] == "Please be polite."


async def test_names_come_from_the_directory(client: httpx.AsyncClient, student: User) -> None:
    await client.get("/v1/myconversations", headers=student.headers)
    await client.put(
        f"/v1/m2m/users/{DEFAULT_SYSTEM_ADMIN_ID}",
        headers=service_headers("users"),
        json={"fullname": "Trust & Safety", "roleId": "admin"},
    )
    body = (await send(client, warning_body(student))).json()
    assert body["conversation"]["participantAName"] == "Trust & Safety"
    assert body["conversation"]["participantBName"] == student.fullname
    assert body["chatMessage"]["senderName"] == "Trust & Safety"


async def test_a_name_learned_later_fills_the_existing_channel(
    client: httpx.AsyncClient, student: User
) -> None:
    first = (await send(client, warning_body(student))).json()
    assert first["conversation"]["participantBName"] is None
    await client.get("/v1/myconversations", headers=student.headers)
    second = (await send(client, warning_body(student))).json()
    assert second["conversation"]["participantBName"] == student.fullname


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"targetUserRole": "admin"}, "errMsg_targetUserRoleisNotValid"),
        ({"targetUserRole": None}, "errMsg_targetUserRoleisNotValid"),
        ({"severity": "fatal"}, "errMsg_severityisNotValid"),
        ({"resolutionType": "delete"}, "errMsg_resolutionTypeisNotValid"),
        ({"targetUserId": "someone"}, "errMsg_targetUserIdisNotAValidID"),
        ({"complaintId": 17}, "errMsg_complaintIdisNotAValidID"),
        ({"messageContent": 5}, "errMsg_messageContentisNotValid"),
        ({"messageContent": "   "}, "errMsg_messageContentisRequired"),
        ({"messageContent": "a\x00b"}, "errMsg_messageContentisNotValid"),
        ({"targetUserId": DEFAULT_SYSTEM_ADMIN_ID}, "errMsg_participantsMustDiffer"),
    ],
)
async def test_bad_input_is_400_and_stores_nothing(
    app: Any, client: httpx.AsyncClient, student: User, changes: dict[str, Any], key: str
) -> None:
    response = await send(client, {**warning_body(student), **changes})
    assert_error(response, 400, key)
    inbox = await client.get("/v1/myconversations", headers=student.headers)
    assert inbox.json()["conversations"] == []


@pytest.mark.parametrize("missing", ["targetUserId", "targetUserRole", "messageContent"])
async def test_missing_fields_are_400(client: httpx.AsyncClient, student: User, missing: str) -> None:
    body = warning_body(student)
    del body[missing]
    assert_error(await send(client, body), 400, f"errMsg_{missing}isRequired")


async def test_oversized_warning_is_413_and_opens_no_channel(
    client: httpx.AsyncClient, student: User
) -> None:
    response = await send(client, warning_body(student, messageContent="x" * 70_000))
    assert_error(response, 413, "errMsg_messageTooLarge")
    inbox = await client.get("/v1/myconversations", headers=student.headers)
    assert inbox.json()["conversations"] == []


@pytest.mark.parametrize("caller", ["admin", "super_admin", "student"])
async def test_user_tokens_are_refused(
    client: httpx.AsyncClient, student: User, caller: str, request: Any
) -> None:
    user: User = request.getfixturevalue(caller)
    response = await client.post("/v1/sendsystemmessage", headers=user.headers, json=warning_body(student))
    assert_error(response, 403, "errMsg_m2mTokenRequired")


async def test_no_token_is_401(client: httpx.AsyncClient, student: User) -> None:
    response = await client.post("/v1/sendsystemmessage", json=warning_body(student))
    assert_error(response, 401, "errMsg_loginRequired")


async def test_the_warning_is_pushed_live_to_the_room(app: Any, server_url: str, student: User) -> None:
    async with httpx.AsyncClient(base_url=server_url) as http:
        first = (await send(http, warning_body(student, messageContent="first"))).json()
        room_id = first["conversation"]["id"]

        arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        socket = socketio.AsyncClient(reconnection=False)
        socket.on("hub:messageArrived", arrived.put_nowait, namespace="/hub/chat")
        await socket.connect(
            server_url, namespaces=["/hub/chat"], auth={"token": student.token}, transports=["websocket"]
        )
        try:
            # Put the socket in the room server-side, so this test needs no more of the hub than its
            # transport: the push path is what is under test.
            await app.sio.enter_room(socket.get_sid("/hub/chat"), room_id, namespace="/hub/chat")
            second = (await send(http, warning_body(student, messageContent="second"))).json()
            payload = await asyncio.wait_for(arrived.get(), timeout=5)
        finally:
            await socket.disconnect()
    assert payload["roomId"] == room_id
    assert payload["message"]["id"] == second["chatMessage"]["id"]
    assert payload["message"]["messageType"] == "warning"
    assert payload["sender"]["id"] == DEFAULT_SYSTEM_ADMIN_ID
