"""The hub's wire protocol: event names, client payloads checked into typed requests, and the
one place a failure becomes ``hub:error {roomId?, error, code}``.

Nothing from a client is trusted: every payload goes through a ``parse_*`` function here that
raises ``InvalidInput`` (``INVALID_PAYLOAD``) or ``PayloadTooLarge`` (``MESSAGE_TOO_LARGE``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from tutorhub_messaging.errors import AppError, InvalidInput, PayloadTooLarge
from tutorhub_messaging.hub.definition import HubDefinition
from tutorhub_messaging.hub.rooms import check_room_id
from tutorhub_messaging.identity.tokens import UUID_RE
from tutorhub_messaging.messages.service import NewMessage
from tutorhub_messaging.moderation.service import check_duration, check_reason
from tutorhub_messaging.ops.metrics import HUB_ERRORS

log = logging.getLogger(__name__)

# Client -> server
JOIN = "hub:join"
LEAVE = "hub:leave"
SEND = "hub:send"
EVENT = "hub:event"
BLOCK = "hub:block"
UNBLOCK = "hub:unblock"
SILENCE = "hub:silence"
UNSILENCE = "hub:unsilence"

# Server -> client
JOINED = "hub:joined"
HISTORY = "hub:history"
PRESENCE = "hub:presence"
ONLINE = "hub:online"
OFFLINE = "hub:offline"
ERROR = "hub:error"
BLOCKED = "hub:blocked"
UNBLOCKED = "hub:unblocked"
SILENCED = "hub:silenced"
UNSILENCED = "hub:unsilenced"

# Names a custom hub:event may not take, so a client can never forge a protocol event.
PROTOCOL_EVENT_NAMES = frozenset(
    {
        "join", "leave", "send", "event", "joined", "history", "presence", "error",
        "messageArrived", "messageUpdated", "messageDeleted", "messageEdited",
        "online", "offline", "members",
        "block", "unblock", "silence", "unsilence", "blocked", "unblocked", "silenced", "unsilenced",
    }
)  # fmt: skip
EVENT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_META_BYTES = 4096

# The stable codes of DECISIONS §6; any other failure reaches clients as INTERNAL.
HUB_ERROR_CODES = frozenset(
    {
        "ROOM_NOT_FOUND", "ROOM_NOT_ELIGIBLE", "NOT_AUTHORIZED", "NOT_JOINED", "BLOCKED", "SILENCED",
        "SEND_NOT_ALLOWED", "INVALID_PAYLOAD", "MESSAGE_TOO_LARGE", "RATE_LIMITED", "ROOM_FULL",
        "ROOM_LIMIT", "MODERATE_NOT_ALLOWED", "INTERNAL",
    }
)  # fmt: skip


def _bad(message: str, field: str) -> InvalidInput:
    return InvalidInput(message, key=f"errMsg_{field}IsNotValid")


def payload_object(data: Any) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise InvalidInput("The payload must be an object", key="errMsg_payloadIsNotAnObject")
    return data


def check_plain_json(data: Any) -> None:
    """A payload the service can encode again: no binary values, nested at most 254 levels.
    Anything deeper (JSON decodes up to 1,024) would fail later, in the middle of a handler."""
    try:
        orjson.dumps(data)
    except TypeError:
        raise InvalidInput(
            "The payload must be plain JSON nested at most 250 levels deep", key="errMsg_payloadIsNotValid"
        ) from None


def room_id_of(payload: Mapping[str, Any]) -> str:
    if payload.get("roomId") is None:
        raise InvalidInput("roomId is required", key="errMsg_roomIdisRequired")
    return check_room_id(payload["roomId"])


def echoed_room_id(data: Any) -> str | None:
    """The payload's roomId when it is a well-formed id: echoed in hub:error, never raw input."""
    if isinstance(data, dict):
        value = data.get("roomId")
        if isinstance(value, str) and UUID_RE.match(value):
            return value.lower()
    return None


def _sized(value: Any, limit: int, field: str) -> None:
    if len(orjson.dumps(value)) > limit:
        raise PayloadTooLarge(f"{field} is larger than {limit} bytes", key="errMsg_payloadTooLarge")


@dataclass(frozen=True, slots=True)
class JoinRequest:
    room_id: str
    meta: dict[str, Any] | None
    after: str | None


def parse_join(data: Any) -> JoinRequest:
    payload = payload_object(data)
    room_id = room_id_of(payload)
    meta = payload.get("meta")
    if meta is not None:
        if not isinstance(meta, dict):
            raise _bad("meta must be an object", "meta")
        _sized(meta, MAX_META_BYTES, "meta")
    after = payload.get("after")
    if after is not None:
        if not isinstance(after, str) or not UUID_RE.match(after):
            raise _bad("after must be a message id", "after")
        after = after.lower()
    return JoinRequest(room_id, meta, after)


def parse_leave(data: Any) -> str:
    return room_id_of(payload_object(data))


def parse_send(data: Any) -> tuple[str, NewMessage]:
    """The shape only; content, type, size, reply and idempotency rules live in the send path."""
    payload = payload_object(data)
    room_id = room_id_of(payload)
    if payload.get("messageType") is None:
        raise InvalidInput("messageType is required", key="errMsg_messageTypeisRequired")
    if payload.get("content") is None:
        raise InvalidInput("content is required", key="errMsg_contentisRequired")
    return room_id, NewMessage(
        message_type=payload["messageType"],
        content=payload["content"],
        reply_to=payload.get("replyTo"),
        forwarded=payload.get("forwarded"),
        client_message_id=payload.get("clientMessageId"),
    )


@dataclass(frozen=True, slots=True)
class EventRequest:
    room_id: str
    name: str
    data: dict[str, Any]


def parse_event(data: Any, definition: HubDefinition, custom_max_bytes: int) -> EventRequest:
    payload = payload_object(data)
    room_id = room_id_of(payload)
    name = payload.get("event")
    if not isinstance(name, str) or not EVENT_NAME.match(name):
        raise _bad(
            "event must be a name of letters, digits and _ (at most 64, starting with a letter)", "event"
        )
    if name in PROTOCOL_EVENT_NAMES:
        raise _bad(f"event {name} is a protocol event and cannot be relayed", "event")
    extra = payload.get("data")
    if extra is None:
        extra = {}
    if not isinstance(extra, dict):
        raise _bad("data must be an object", "data")
    _sized(extra, definition.event_data_limit(name, custom_max_bytes), "data")
    return EventRequest(room_id, name, definition.relayed_data(name, extra))


def parse_read_time(value: Any, now: datetime) -> datetime:
    """A read receipt's time: ISO 8601 (no zone means UTC); absent means now; never in the future."""
    if value is None:
        return now
    if not isinstance(value, str) or len(value) > 64:
        raise _bad("lastReadTimestamp must be an ISO 8601 date", "lastReadTimestamp")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _bad("lastReadTimestamp must be an ISO 8601 date", "lastReadTimestamp") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    # Stored at the precision clients echo back (milliseconds), like every other time.
    moment = moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)
    return min(moment, now)


@dataclass(frozen=True, slots=True)
class ModerationRequest:
    room_id: str
    user_id: str
    reason: str | None
    duration: int


def parse_moderation(data: Any, *, with_terms: bool) -> ModerationRequest:
    """``with_terms``: block and silence take ``reason`` and ``duration``; un-actions ignore them."""
    payload = payload_object(data)
    room_id = room_id_of(payload)
    user_id = payload.get("userId")
    if user_id is None:
        raise InvalidInput("userId is required", key="errMsg_userIdisRequired")
    if not isinstance(user_id, str) or not UUID_RE.match(user_id):
        raise InvalidInput("userId must be a valid user id", key="errMsg_userIdisNotAValidID")
    if not with_terms:
        return ModerationRequest(room_id, user_id.lower(), None, 0)
    return ModerationRequest(
        room_id,
        user_id.lower(),
        check_reason(payload.get("reason")),
        check_duration(payload.get("duration")),
    )


def render_error(exc: BaseException, room_id: str | None) -> dict[str, Any]:
    """``hub:error`` for any failure: the error's own code and sentence, or INTERNAL with a
    reference that is also logged (with the traceback), and nothing of the internals."""
    if isinstance(exc, AppError) and exc.code in HUB_ERROR_CODES:
        code, message = exc.code, exc.message
    elif isinstance(exc, AppError):
        # Known but not a protocol code (a database outage): its sentence is safe to show.
        log.warning("hub event failed: %s", exc.code)
        code, message = "INTERNAL", exc.message
    else:
        reference = uuid.uuid4().hex[:12]
        log.error("hub event failed unexpectedly (reference %s)", reference, exc_info=exc)
        code, message = "INTERNAL", f"Internal server error (reference {reference})"
    HUB_ERRORS.labels(code=code).inc()
    payload: dict[str, Any] = {"error": message, "code": code}
    if room_id is not None:
        payload = {"roomId": room_id, **payload}
    return payload
