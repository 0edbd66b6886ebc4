"""Callers, seeded records and the steering of generated requests for the schema-driven fuzz run.

Everything is seeded through the public API, on the same in-process client (and so the same
event loop) the fuzzer uses: an enrollment that opens the student's room with the tutor, an admin
channel, one message of every type by every user, a directory user and a second enrollment for
the M2M routes to rewrite. ``Steering`` then points a generated request at the records its caller
may use, so valid requests reach the success path instead of a 404 or a 403.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from tests.support.tokens import craft, hmac_signed, user_claims
from tests.support.users import TEST_SECRET, User, service_token
from tutorhub_messaging.hub.chat import CHAT_HUB

USERS = ("student", "tutor", "admin", "superAdmin")
SERVICE, ANONYMOUS, FORGED = "service", "anonymous", "forged"
CALLERS = (*USERS, SERVICE, ANONYMOUS, FORGED)
# ``/dev/demo-users`` exists only in development mode, which the fuzz app runs in; there it is public.
PUBLIC_PATHS = frozenset({"/health", "/ready", "/metrics", "/dev/demo-users"})
# Nothing listens on the discard port of loopback: every delivery fails at once and, with this
# retry budget, is dead-lettered within moments.
DEAD_WEBHOOK_SETTINGS: dict[str, Any] = {
    "webhook_urls": ["http://127.0.0.1:9/events"],
    "webhook_secret": "fuzz-webhook-secret",
    "webhook_timeout_seconds": 1.0,
    "webhook_retry_budget_seconds": 0.2,
    "webhook_backoff_initial_seconds": 0.05,
    "webhook_backoff_max_seconds": 0.1,
    "webhook_poll_seconds": 0.05,
}

# Which message type a content is meant for: the type with the most required fields it has
# (every required content field is text).
REQUIRED_FIELDS = sorted(
    ((name, [f.name for f in t.fields if f.required]) for name, t in CHAT_HUB.message_types.items()),
    key=lambda item: -len(item[1]),
)
# A sample content of each type, for seeding.
SAMPLE_CONTENT: dict[str, dict[str, Any]] = {
    "text": {"body": "seeded text"},
    "image": {"mediaUrl": "https://cdn.example.test/i.png", "width": 640, "height": 480},
    "document": {"mediaUrl": "https://cdn.example.test/d.pdf", "fileName": "notes.pdf", "fileSize": 1024},
    "system": {"systemAction": "courseStarted", "systemData": {"week": 1}},
    "warning": {"body": "Please keep it polite", "severity": "info"},
}


def is_m2m(path: str) -> bool:
    """The service-to-service routes: they accept only service tokens."""
    return path.startswith("/v1/m2m/") or path == "/v1/sendsystemmessage"


def allowed_callers(path: str) -> frozenset[str]:
    """The callers for whom the operation has a success path."""
    if path in PUBLIC_PATHS:
        return frozenset(CALLERS)
    if is_m2m(path):
        return frozenset({SERVICE})
    return frozenset(USERS)


def content_type_name(content: Any) -> str | None:
    if not isinstance(content, dict):
        return None
    for name, required in REQUIRED_FIELDS:
        if all(isinstance(content.get(key), str) for key in required):
            return name
    return None


def forged_tokens() -> list[str]:
    """Tokens that must never be accepted: each breaks the signature or the pinned algorithm."""
    claims = user_claims(role="superAdmin")
    real = User("student").token.split(".")
    tampered = craft({"alg": "HS256", "typ": "JWT"}, claims).split(".")
    now = int(time.time())
    service_claims = {"tokenName": "m2m", "serviceName": "adminPanel", "iat": now, "exp": now + 600}
    return [
        hmac_signed({"alg": "HS256", "typ": "JWT"}, claims, b"not-the-secret"),
        craft({"alg": "none", "typ": "JWT"}, claims),
        f"{real[0]}.{tampered[1]}.{real[2]}",  # a real signature over other claims
        hmac_signed({"alg": "HS512", "typ": "JWT"}, claims, TEST_SECRET.encode()),
        hmac_signed({"alg": "HS256", "typ": "JWT"}, service_claims, b"not-the-secret"),
        "not.a.token",
    ]


@dataclass
class Seeded:
    users: dict[str, User]
    room_of: dict[str, str]  # the room each user caller takes part in (superAdmin: any room)
    anchor_of: dict[str, str]  # room -> a message in it (to reply to, or to read after)
    messages: dict[str, dict[str, str]]  # caller -> message type -> id of a message they may edit
    readable: dict[str, str]  # caller -> a message they may read
    enrollment_for_pair: str  # the active enrollment of the student with the tutor
    enrollment_to_sync: str  # rewritten by the M2M route
    directory_user: str
    forged: Iterator[str] = field(default_factory=lambda: itertools.cycle(forged_tokens()))

    def headers(self, caller: str) -> dict[str, str]:
        if caller == ANONYMOUS:
            return {}
        if caller == FORGED:
            return {"Authorization": f"Bearer {next(self.forged)}"}
        token = service_token() if caller == SERVICE else self.users[caller].token
        return {"Authorization": f"Bearer {token}"}


def _ok(response: requests.Response, what: str) -> dict[str, Any]:
    assert response.status_code in (200, 201), f"seeding {what}: {response.status_code} {response.text}"
    body: dict[str, Any] = response.json()
    return body


def send(client: requests.Session, user: User, room_id: str, message_type: str = "text") -> str:
    """A message sent through the hub REST route; its id."""
    body = {"messageType": message_type, "data": SAMPLE_CONTENT[message_type]}
    response = client.post(f"/chat/{room_id}/messages", json=body, headers=user.headers)
    return str(_ok(response, f"a {message_type} message")["data"]["id"])


def seed(client: requests.Session) -> Seeded:
    users = {role: User(role) for role in USERS}
    student, tutor, admin = users["student"], users["tutor"], users["admin"]
    service = {"Authorization": f"Bearer {service_token()}"}

    def enroll(enrollment_id: str, student_id: str, tutor_id: str) -> dict[str, Any]:
        body = {
            "studentId": student_id,
            "tutorUserId": tutor_id,
            "tutorProfileId": str(uuid.uuid4()),
            "coursePackId": str(uuid.uuid4()),
            "courseTitle": "Algebra",
            "status": "active",
        }
        response = client.put(f"/v1/m2m/enrollments/{enrollment_id}", json=body, headers=service)
        return _ok(response, "an enrollment")

    pair_enrollment, spare_enrollment = str(uuid.uuid4()), str(uuid.uuid4())
    lesson_room = str(enroll(pair_enrollment, student.id, tutor.id)["conversation"]["id"])
    enroll(spare_enrollment, str(uuid.uuid4()), str(uuid.uuid4()))
    channel = {"conversationType": "adminStudent", "participantA": admin.id, "participantB": student.id}
    admin_room = str(
        _ok(client.post("/v1/conversations", json=channel, headers=admin.headers), "a channel")[
            "conversation"
        ]["id"]
    )
    directory_user = str(uuid.uuid4())
    _ok(client.put(f"/v1/m2m/users/{directory_user}", json={"fullname": "Dee"}, headers=service), "a user")

    room_of = {"student": lesson_room, "tutor": lesson_room, "admin": admin_room, "superAdmin": lesson_room}
    messages: dict[str, dict[str, str]] = {}
    for role in ("student", "tutor", "admin"):
        messages[role] = {name: send(client, users[role], room_of[role], name) for name in SAMPLE_CONTENT}
    # The superAdmin edits (and restatuses) someone else's messages: a second set of the student's.
    messages["superAdmin"] = {name: send(client, student, lesson_room, name) for name in SAMPLE_CONTENT}
    readable = {"student": messages["tutor"]["text"], "tutor": messages["student"]["text"]}
    readable |= {"admin": messages["tutor"]["text"], "superAdmin": messages["admin"]["text"]}
    return Seeded(
        users=users,
        room_of=room_of,
        anchor_of={lesson_room: messages["tutor"]["text"], admin_room: messages["admin"]["text"]},
        messages=messages,
        readable=readable,
        enrollment_for_pair=pair_enrollment,
        enrollment_to_sync=spare_enrollment,
        directory_user=directory_user,
    )


def _author_of_fresh(seeded: Seeded, caller: str) -> User:
    """Who writes the message a caller deletes: the caller, or for the superAdmin (who may delete
    anything) the student."""
    return seeded.users["student" if caller == "superAdmin" else caller]


def fresh_message(client: requests.Session, seeded: Seeded, caller: str) -> str:
    author = _author_of_fresh(seeded, caller)
    return send(client, author, seeded.room_of[caller])


def dead_delivery(client: requests.Session, within: float = 20.0) -> str:
    """The id of a dead-lettered webhook delivery (the newest)."""
    service = {"Authorization": f"Bearer {service_token()}"}
    deadline = time.monotonic() + within
    while True:
        params = {"status": "dead", "pageRowCount": "1"}
        response = client.get("/v1/m2m/webhook-deliveries", params=params, headers=service)
        rows = _ok(response, "the dead deliveries")["webhookDeliveries"]
        if rows:
            return str(rows[0]["id"])
        assert time.monotonic() < deadline, "no webhook delivery was dead-lettered"
        time.sleep(0.05)


def pin_path(case: Any, caller: str, seeded: Seeded, client: requests.Session) -> None:
    """Point every path id at a record the caller may use (other callers get the student's)."""
    user_caller = caller if caller in USERS else "student"
    method, values = case.operation.method.upper(), case.path_parameters
    room = seeded.room_of[user_caller]
    fresh = method == "DELETE" and caller in USERS
    for name in list(values or {}):
        if name in ("roomId", "conversationId"):
            values[name] = room
        elif name in ("id", "messageId"):
            if fresh:
                values[name] = fresh_message(client, seeded, caller)
            elif method == "PATCH":
                body = case.body if isinstance(case.body, dict) else {}
                content_type = content_type_name(body.get("content"))
                values[name] = seeded.messages[user_caller][content_type or "text"]
            else:
                values[name] = seeded.readable[user_caller]
        elif name == "userId":
            values[name] = seeded.directory_user
        elif name == "enrollmentId":
            values[name] = seeded.enrollment_to_sync
        elif name == "deliveryId":
            values[name] = dead_delivery(client)


def steer_body(case: Any, caller: str, seeded: Seeded) -> None:
    """Fill a valid request's record references (participants, reply targets, filters) with
    seeded ones the caller may use; leave everything else as generated."""
    user_caller = caller if caller in USERS else "student"
    users, room = seeded.users, seeded.room_of[user_caller]
    key = (case.operation.method.upper(), case.operation.path)
    body, query = case.body, case.query
    if key == ("POST", "/v1/conversations") and isinstance(body, dict):
        if user_caller in ("student", "tutor"):
            body["conversationType"] = "studentTutor"
        kind = body.get("conversationType")
        if kind == "studentTutor":
            body |= {"participantA": users["student"].id, "participantB": users["tutor"].id}
            body["enrollmentId"] = seeded.enrollment_for_pair
        else:
            other = users["tutor" if kind == "adminTutor" else "student"]
            body |= {"participantA": users["admin"].id, "participantB": other.id}
            body.pop("enrollmentId", None)
    elif key == ("POST", "/v1/sendsystemmessage") and isinstance(body, dict):
        body["targetUserId"] = users["tutor" if body.get("targetUserRole") == "tutor" else "student"].id
    elif key == ("POST", "/chat/{roomId}/messages") and isinstance(body, dict):
        reply_to = body.get("replyTo")
        if isinstance(reply_to, dict):
            reply_to["id"] = seeded.anchor_of[room]
        elif reply_to is not None:
            body["replyTo"] = seeded.anchor_of[room]
    elif key == ("GET", "/chat/{roomId}/messages") and query and query.get("after") is not None:
        query["after"] = seeded.anchor_of[room]
    elif key[1].endswith("/chat-messages") and query and query.get("roomId") is not None:
        values = query["roomId"] if isinstance(query["roomId"], list) else [query["roomId"]]
        query["roomId"] = [value if value == "null" else room for value in values]
    elif (
        key[0] == "PATCH"
        and isinstance(body, dict)
        and user_caller in ("student", "tutor")
        and body.get("content") is not None
    ):
        # Only admins change the status: a user's edit keeps it only when it is all there is.
        body.pop("status", None)
