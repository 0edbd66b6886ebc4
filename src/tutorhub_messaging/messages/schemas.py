"""Request and response shapes of the message routes, as published in ``/openapi.json``.

Routes build their bodies with ``message_record`` and the envelope helpers; these models describe
those bodies (the fuzz test validates every response against them) and parse request bodies.
Unknown body fields are ignored; wrong types are a 400.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from tutorhub_messaging.db.models import MESSAGE_STATUSES, MESSAGE_TYPES
from tutorhub_messaging.hub.chat import CHAT_HUB
from tutorhub_messaging.messages.content_schema import any_content_schema, send_body_variants
from tutorhub_messaging.messages.filters import NULL, FilterLimits
from tutorhub_messaging.messages.service import MAX_CLIENT_MESSAGE_ID
from tutorhub_messaging.rest.openapi import NO_NUL_PATTERN, ListEnvelope, SuccessEnvelope, any_case_pattern

# The guide's enum options (``db.models.MESSAGE_TYPES`` / ``MESSAGE_STATUSES``).
MessageTypeName = Literal["text", "image", "document", "system", "warning"]
MessageStatus = Literal["pending", "approved", "rejected"]


class ReplyReference(BaseModel):
    id: str = Field(description="the message replied to")
    preview: str = Field(description="its text preview at the time of the reply")


class ChatMessageRecord(BaseModel):
    """The chatMessage object of the guides."""

    id: str
    roomId: str
    senderId: str | None
    senderName: str | None
    senderAvatar: str | None
    messageType: MessageTypeName
    messageType_idx: int
    content: dict[str, Any] = Field(description="type-specific payload (see the hub guide's message types)")
    timestamp: str = Field(description="ISO 8601 with milliseconds, e.g. 2026-11-22T10:30:00.123Z")
    status: MessageStatus | None
    status_idx: int | None
    replyTo: ReplyReference | None
    forwarded: bool
    clientMessageId: str | None
    isActive: bool
    recordVersion: int
    createdAt: str
    updatedAt: str
    owner: str | None = Field(alias="_owner")


# --- listChatMessages filter values (checked by ``messages.filters``) ------------------------

# The document states the default bounds (``MESSAGING_SEARCH_MAX_VALUES_PER_FILTER`` and
# ``MESSAGING_SEARCH_MAX_VALUE_LENGTH``): how often each filter may be repeated, how long a value is.
_DEFAULT_LIMITS = FilterLimits()
FILTER_VALUES_SCHEMA = {"maxItems": _DEFAULT_LIMITS.values_per_filter}
IdFilterValue = Annotated[
    str, WithJsonSchema({"anyOf": [{"type": "string", "format": "uuid"}, {"type": "string", "const": NULL}]})
]
TextFilterValue = Annotated[
    str,
    WithJsonSchema({"type": "string", "maxLength": _DEFAULT_LIMITS.value_length, "pattern": NO_NUL_PATTERN}),
]
MessageTypeFilterValue = Annotated[
    str, WithJsonSchema({"type": "string", "pattern": any_case_pattern(MESSAGE_TYPES, NULL)})
]
StatusFilterValue = Annotated[
    str, WithJsonSchema({"type": "string", "pattern": any_case_pattern(MESSAGE_STATUSES, NULL)})
]


# --- /v1 chatMessage envelopes -------------------------------------------------------------


class ChatMessageEnvelope(SuccessEnvelope):
    chatMessage: ChatMessageRecord


class ChatMessageListEnvelope(ListEnvelope):
    chatMessages: list[ChatMessageRecord]


MAX_BYTES_NOTE = "its JSON is at most the service's message size limit (64 KiB by default; 413 beyond)"


def _update_body_schema(schema: dict[str, Any]) -> None:
    """Content of any message type (the stored message's type decides which applies), and at
    least one of ``content`` and ``status`` not null."""
    properties = schema["properties"]
    content = any_content_schema(CHAT_HUB, properties["content"].get("description", ""))
    content["anyOf"].append({"type": "null"})
    properties["content"] = content
    properties["status"].pop("default", None)
    schema["anyOf"] = [
        {"required": ["content"], "properties": {"content": {"type": "object"}}},
        {"required": ["status"], "properties": {"status": {"type": "string"}}},
    ]


class ChatMessageUpdate(BaseModel):
    """``PATCH /v1/v1/chat-messages/{id}``: at least one of the two."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_update_body_schema)

    content: dict[str, Any] | None = Field(
        default=None, description="new content, checked against the message's type and size limit"
    )
    status: MessageStatus | None = Field(default=None, description="moderation status (admins only)")


# --- /chat hub REST bodies -----------------------------------------------------------------


class HubErrorBody(BaseModel):
    success: Literal[False]
    error: str = Field(description="a human sentence")
    code: str = Field(description="a stable code such as ROOM_NOT_FOUND or NOT_AUTHORIZED")


class HubPagination(BaseModel):
    limit: int
    offset: int
    total: int = Field(description="active messages in the room (with after: newer than that message)")


class HubMessagePage(BaseModel):
    success: Literal[True]
    data: list[ChatMessageRecord]
    pagination: HubPagination


class HubReplyTarget(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(json_schema_extra={"format": "uuid"})


def _send_body_schema(schema: dict[str, Any]) -> None:
    """One variant per message type, told apart by ``messageType`` (left out or null: text), each
    with its type's ``data`` schema; ``replyTo`` and ``clientMessageId`` are common to all."""
    properties = schema.pop("properties")
    schema.pop("required", None)
    client_message_id = {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_CLIENT_MESSAGE_ID,
        "pattern": NO_NUL_PATTERN,
    }
    common = {
        "replyTo": properties["replyTo"],
        "clientMessageId": {
            "anyOf": [client_message_id, {"type": "null"}],
            "description": properties["clientMessageId"]["description"],
        },
    }
    schema["oneOf"] = send_body_variants(
        CHAT_HUB, common, content_key="data", max_bytes_note="the content; " + MAX_BYTES_NOTE
    )


class HubSendBody(BaseModel):
    """``POST /chat/{roomId}/messages``: ``data`` is the message content."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_send_body_schema)

    data: dict[str, Any] = Field(description="the content, e.g. {body} for a text message")
    messageType: str | None = Field(default=None, description="one of the hub's message types; default text")
    replyTo: Annotated[str, Field(json_schema_extra={"format": "uuid"})] | HubReplyTarget | None = Field(
        default=None, description="a message id or {id}"
    )
    clientMessageId: str | None = Field(
        default=None,
        max_length=MAX_CLIENT_MESSAGE_ID,
        description="makes the send idempotent per room and sender: a retry returns the stored message",
    )


class HubMessageSent(BaseModel):
    """The stored message, under ``data`` (like the history route) and ``message`` (like the
    ``hub:send`` acknowledgement)."""

    success: Literal[True]
    data: ChatMessageRecord
    message: ChatMessageRecord


class HubMessageDeleted(BaseModel):
    success: Literal[True]
    messageId: str


class HubEligibility(BaseModel):
    success: Literal[True]
    eligible: bool


HUB_ERROR_DESCRIPTIONS = {
    400: "Invalid input (INVALID_PAYLOAD)",
    401: "No or invalid login (UNAUTHENTICATED)",
    403: "Not allowed (NOT_AUTHORIZED, BLOCKED, SILENCED, SEND_NOT_ALLOWED)",
    404: "No such room or message (ROOM_NOT_FOUND, NOT_FOUND)",
    409: "Room closed for realtime chat (ROOM_NOT_ELIGIBLE)",
    413: "Message too large (MESSAGE_TOO_LARGE)",
    429: "Too many messages (RATE_LIMITED)",
    500: "Unexpected error (INTERNAL; no internals in the body)",
    503: "Database unavailable (UNAVAILABLE)",
}


def hub_error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries of a ``/chat`` route (their error body is ``HubErrorBody``)."""
    wanted = sorted({400, 401, 403, *statuses, 500, 503})
    return {
        status: {"model": HubErrorBody, "description": HUB_ERROR_DESCRIPTIONS[status]} for status in wanted
    }
