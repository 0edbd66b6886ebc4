"""Access tokens: decoding with pinned algorithms, and minting for local use.

HS256 tokens are checked with ``MESSAGING_JWT_SECRET``; RS256 tokens with the public key from
``MESSAGING_JWT_PUBLIC_KEY_FILE``. The algorithm a token claims is only used to pick which of those
two keys to try; ``none`` and every other algorithm are refused before any verification.
"""

from __future__ import annotations

import re
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

from tutorhub_messaging.identity.principal import KNOWN_ROLES, SUPER_ADMIN, Principal
from tutorhub_messaging.settings import Settings

M2M_TOKEN_NAME = "tutorhub-m2m-token"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_TOKEN_LENGTH = 8192
KNOWN_ROLE_SET = frozenset(KNOWN_ROLES)

# The key's length is checked once, at start (``Settings``: refused in production below 32 bytes,
# one warning line in development); PyJWT would repeat it as a two-line warning per process.
warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)


class InvalidToken(Exception):
    """The token is malformed, expired, wrongly signed or of a refused algorithm."""


class TokenExpired(InvalidToken):
    """A correctly signed token past its ``exp``: the client should get a fresh one and retry.

    Still an ``InvalidToken`` (the guides' texts do not change), but surfaces tell it apart so a
    client knows to refresh rather than to log the user out.
    """


@dataclass(frozen=True)
class TokenKeys:
    hs256_secret: str | None
    rs256_public_key: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> TokenKeys:
        public_key = None
        if settings.jwt_public_key_file is not None:
            public_key = settings.jwt_public_key_file.read_text()
        return cls(hs256_secret=settings.hs256_secret, rs256_public_key=public_key)


def _roles_from(claim: Any) -> frozenset[str]:
    """The roles this service acts on. Other role names of the platform grant nothing here, so
    they are dropped: a signed token with any number of them still works, and what the directory
    stores of a caller's roles stays short."""
    if isinstance(claim, str):
        names = {r.strip() for r in claim[:MAX_TOKEN_LENGTH].split(",")}
    elif isinstance(claim, list):
        names = {r.strip() for r in claim if isinstance(r, str)}
    else:
        return frozenset()
    return frozenset(names & KNOWN_ROLE_SET)


def _optional_str(claims: dict[str, Any], name: str, limit: int = 2048) -> str | None:
    """A display claim as text every database can store: a signed token is trusted for who the
    caller is, not for being storable, so NUL and lone surrogates are cleaned, not refused."""
    value = claims.get(name)
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")[:limit]
    return value or None


# Seconds of clock difference between issuer and service that a token's ``exp`` tolerates.
EXPIRY_LEEWAY_SECONDS = 5


def decode_claims(token: str, keys: TokenKeys) -> dict[str, Any]:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("malformed")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed") from exc
    algorithm = header.get("alg")
    if algorithm == "HS256" and keys.hs256_secret:
        key = keys.hs256_secret
    elif algorithm == "RS256" and keys.rs256_public_key:
        key = keys.rs256_public_key
    else:
        raise InvalidToken("algorithm not accepted")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[algorithm],  # exactly one, chosen by us from the configured keys
            options={"require": [], "verify_aud": False},
            leeway=EXPIRY_LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpired("expired") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from exc
    return claims


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    """Build the caller from verified claims, enforcing the rules that signatures do not."""
    if claims.get("tokenName") == M2M_TOKEN_NAME:
        service = claims.get("serviceName")
        if not isinstance(service, str) or not service or "exp" not in claims:
            raise InvalidToken("service token without serviceName or exp")
        return Principal(user_id=f"service:{service[:128]}", service_name=service[:128])

    user_id = claims.get("userId") or claims.get("sub")
    if not isinstance(user_id, str) or not UUID_RE.match(user_id):
        raise InvalidToken("userId missing or not a UUID")
    roles = _roles_from(claims.get("roleId"))
    if "exp" not in claims and SUPER_ADMIN not in roles:
        raise InvalidToken("only absolute sessions may omit exp")
    expires = claims.get("exp")
    return Principal(
        user_id=user_id.lower(),
        expires_at=float(expires) if isinstance(expires, int | float) else None,
        roles=roles,
        session_id=_optional_str(claims, "sessionId", 256),
        fullname=_optional_str(claims, "fullname", 255),
        avatar=_optional_str(claims, "avatar"),
        email=_optional_str(claims, "email", 320),
    )


def strip_bearer(value: str) -> str:
    value = value.strip()
    return value[7:].strip() if value[:7].lower() == "bearer " else value


def mint_user_token(
    secret: str,
    *,
    user_id: str | None = None,
    role: str = "student",
    fullname: str | None = None,
    avatar: str | None = None,
    ttl_seconds: int | None = 3600,
    session_id: str | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "userId": user_id or str(uuid.uuid4()),
        "sessionId": session_id or str(uuid.uuid4()),
        "roleId": role,
        "iat": now,
    }
    if fullname:
        claims["fullname"] = fullname
    if avatar:
        claims["avatar"] = avatar
    if ttl_seconds is not None:
        claims["exp"] = now + ttl_seconds
    return jwt.encode(claims, secret, algorithm="HS256")


def mint_service_token(secret: str, *, service_name: str, ttl_seconds: int = 3600) -> str:
    now = int(time.time())
    claims = {"tokenName": M2M_TOKEN_NAME, "serviceName": service_name, "iat": now, "exp": now + ttl_seconds}
    return jwt.encode(claims, secret, algorithm="HS256")
