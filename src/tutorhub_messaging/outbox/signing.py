"""The webhook signature: ``X-TutorHub-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`` of
``"<t>.<raw body>"`` with the shared secret (the receiver's side is in ``docs/integration.md``)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-TutorHub-Signature"
EVENT_ID_HEADER = "X-TutorHub-Event-Id"
EVENT_TYPE_HEADER = "X-TutorHub-Event-Type"


def signature(secret: bytes, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: bytes, body: bytes, header: str, *, now: int, tolerance: int = 300) -> bool:
    """The receiver's check: a ``v1`` that matches, on a timestamp at most ``tolerance`` s old."""
    parts = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))
