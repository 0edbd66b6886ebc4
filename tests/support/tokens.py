"""Hand-made tokens for the identity tests: any header, any claims, any signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from typing import Any

import orjson


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def craft(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    """A JWT with exactly this header and these claims; the signature is whatever is given."""
    return ".".join((b64url(orjson.dumps(header)), b64url(orjson.dumps(claims)), b64url(signature)))


def hmac_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    """HMAC-SHA256 over header.claims, whatever algorithm the header names."""
    signing_input = f"{b64url(orjson.dumps(header))}.{b64url(orjson.dumps(claims))}".encode()
    signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return f"{signing_input.decode()}.{b64url(signature)}"


def user_claims(user_id: str | None = None, role: Any = "student", **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "userId": user_id or str(uuid.uuid4()),
        "sessionId": str(uuid.uuid4()),
        "roleId": role,
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(extra)
    return {k: v for k, v in claims.items() if v is not None}
