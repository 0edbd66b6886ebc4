"""/openapi.json describes the conversation and M2M routes as they really answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def schema_name(responses: dict[str, Any], status: str) -> str:
    ref: str = responses[status]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


@pytest.mark.parametrize(
    ("method", "path", "success", "envelope"),
    [
        ("post", "/v1/conversations", ("201", "200"), "ConversationEnvelope"),
        ("get", "/v1/conversations/{conversationId}", ("200",), "ConversationDetailEnvelope"),
        ("get", "/v1/myconversations", ("200",), "InboxEnvelope"),
        ("post", "/v1/sendsystemmessage", ("201",), "SystemMessageEnvelope"),
        ("put", "/v1/m2m/users/{userId}", ("200", "201"), "DirectoryUserEnvelope"),
        ("put", "/v1/m2m/enrollments/{enrollmentId}", ("200", "201"), "EnrollmentSyncEnvelope"),
    ],
)
def test_routes_declare_their_envelopes_and_errors(
    spec: dict[str, Any], method: str, path: str, success: tuple[str, ...], envelope: str
) -> None:
    responses = spec["paths"][path][method]["responses"]
    for status in success:
        assert schema_name(responses, status) == envelope
    for status in ("400", "401", "403", "500"):
        assert schema_name(responses, status) == "ErrorEnvelope"


def test_records_name_the_owner_field_as_the_guide_does(spec: dict[str, Any]) -> None:
    record = spec["components"]["schemas"]["ConversationRecord"]
    assert "_owner" in record["properties"]
    assert record["properties"]["conversationType"]["enum"] == ["studentTutor", "adminStudent", "adminTutor"]


def test_inbox_items_carry_unread_count_and_an_enrollment_array(spec: dict[str, Any]) -> None:
    item = spec["components"]["schemas"]["InboxConversation"]["properties"]
    assert item["unreadCount"]["type"] == "integer"
    assert item["enrollment"]["type"] == "array"


def test_request_bodies_are_described(spec: dict[str, Any]) -> None:
    body = spec["components"]["schemas"]["CreateConversationBody"]
    assert set(body["required"]) == {"conversationType", "participantA", "participantB"}
    assert body["properties"]["participantA"]["format"] == "uuid"
    sync = spec["components"]["schemas"]["EnrollmentSyncBody"]
    assert set(sync["required"]) == {"studentId", "tutorUserId", "tutorProfileId", "coursePackId", "status"}


def test_path_ids_are_documented_as_uuids(spec: dict[str, Any]) -> None:
    [parameter] = spec["paths"]["/v1/conversations/{conversationId}"]["get"]["parameters"]
    assert parameter["schema"]["format"] == "uuid"


async def test_wrong_method_answers_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/myconversations")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["message"] == "errMsg_methodNotAllowed"
