"""The service's one error hierarchy.

Every error carries a stable ``code`` (the hub guide's codes), an HTTP ``status``, a human sentence
(``message``) and an ``errMsg_...`` key for the Mindbricks REST envelope. Services only raise;
the three renderers (REST envelope, hub REST body, ``hub:error``) live at the edges.
"""

from __future__ import annotations


class AppError(Exception):
    status: int = 500
    code: str = "INTERNAL"
    default_message: str = "Internal server error"
    default_key: str = "errMsg_internalServerError"

    def __init__(self, message: str | None = None, *, key: str | None = None) -> None:
        self.message = message or self.default_message
        self.key = key or self.default_key
        super().__init__(self.message)


class InvalidInput(AppError):
    status = 400
    code = "INVALID_PAYLOAD"
    default_message = "Invalid input"
    default_key = "errMsg_invalidInput"


class Unauthenticated(AppError):
    status = 401
    code = "UNAUTHENTICATED"
    default_message = "Authentication required"
    default_key = "errMsg_loginRequired"


class TokenExpiredError(Unauthenticated):
    """Still a 401, with its own code and key so a client knows to refresh its token and retry."""

    code = "TOKEN_EXPIRED"
    default_message = "The token has expired"
    default_key = "errMsg_tokenExpired"


class Forbidden(AppError):
    status = 403
    code = "NOT_AUTHORIZED"
    default_message = "You are not allowed to do this"
    default_key = "errMsg_forbidden"


class NotFound(AppError):
    status = 404
    code = "NOT_FOUND"
    default_message = "Not found"
    default_key = "errMsg_notFound"


class Conflict(AppError):
    status = 409
    code = "CONFLICT"
    default_message = "Conflict"
    default_key = "errMsg_conflict"


class IdempotencyKeyReused(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"
    default_message = "This Idempotency-Key was already used for a different request"
    default_key = "errMsg_idempotencyKeyReused"


class PayloadTooLarge(AppError):
    status = 413
    code = "MESSAGE_TOO_LARGE"
    default_message = "Payload too large"
    default_key = "errMsg_payloadTooLarge"


class RateLimited(AppError):
    status = 429
    code = "RATE_LIMITED"
    default_message = "Too many requests"
    default_key = "errMsg_rateLimited"

    def __init__(
        self, message: str | None = None, *, key: str | None = None, retry_after: int | None = None
    ) -> None:
        super().__init__(message, key=key)
        # Seconds a client should wait before trying again (REST: the Retry-After header).
        self.retry_after = retry_after


class Unavailable(AppError):
    status = 503
    code = "UNAVAILABLE"
    default_message = "Service temporarily unavailable"
    default_key = "errMsg_serviceUnavailable"


# Hub protocol errors: their codes are the stable strings of DECISIONS §6.


class RoomNotFound(NotFound):
    code = "ROOM_NOT_FOUND"
    default_message = "Room not found"
    default_key = "errMsg_roomNotFound"


class RoomNotEligible(Conflict):
    code = "ROOM_NOT_ELIGIBLE"
    default_message = "Room is not eligible for realtime chat"
    default_key = "errMsg_roomNotEligible"


class NotJoined(Conflict):
    code = "NOT_JOINED"
    default_message = "You have not joined this room"
    default_key = "errMsg_notJoined"


class Blocked(Forbidden):
    code = "BLOCKED"
    default_message = "You are blocked in this room"
    default_key = "errMsg_blocked"


class Silenced(Forbidden):
    code = "SILENCED"
    default_message = "You are silenced in this room"
    default_key = "errMsg_silenced"


class SendNotAllowed(Forbidden):
    code = "SEND_NOT_ALLOWED"
    default_message = "You cannot send messages in this room"
    default_key = "errMsg_sendNotAllowed"


class ModerateNotAllowed(Forbidden):
    code = "MODERATE_NOT_ALLOWED"
    default_message = "You cannot moderate this room"
    default_key = "errMsg_moderateNotAllowed"


class RoomFull(Conflict):
    code = "ROOM_FULL"
    default_message = "Room is full"
    default_key = "errMsg_roomFull"


class RoomLimit(Conflict):
    code = "ROOM_LIMIT"
    default_message = "You have joined too many rooms"
    default_key = "errMsg_roomLimit"


def invalid_id(field: str) -> InvalidInput:
    return InvalidInput(f"{field} must be a valid UUID", key=f"errMsg_{field}isNotAValidID")


def missing_field(field: str) -> InvalidInput:
    return InvalidInput(f"{field} is required", key=f"errMsg_{field}isRequired")


class ClientMessageIdReused(AppError):
    """A ``clientMessageId`` retry that is not the same send: other content, or its message is gone."""

    status = 409
    code = "INVALID_PAYLOAD"
    default_message = "clientMessageId was already used for another message"
    default_key = "errMsg_clientMessageIdReused"


class SearchTimedOut(Unavailable):
    """A search stopped by its statement timeout: the same search would take as long again."""

    default_message = "The search took too long and was stopped: narrow its filters"
    default_key = "errMsg_searchTimedOut"
