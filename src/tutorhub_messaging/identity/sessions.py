"""Resolve a token into a caller: straight from its claims, or via a Mindbricks session in Redis."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tutorhub_messaging.errors import Unavailable
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.identity.tokens import (
    InvalidToken,
    TokenKeys,
    decode_claims,
    principal_from_claims,
)

log = logging.getLogger(__name__)

SESSION_KEY_PREFIX = "hexasession:"


class Authenticator:
    """Turns a raw token into a ``Principal`` or raises ``InvalidToken``."""

    def __init__(self, keys: TokenKeys, session_redis: Redis | None = None) -> None:
        self._keys = keys
        self._session_redis = session_redis

    async def authenticate(self, token: str) -> Principal:
        claims = decode_claims(token, self._keys)
        if self._session_redis is not None and claims.get("tokenName") is None:
            claims = await self._merge_session(claims)
        return principal_from_claims(claims)

    @property
    def uses_session_store(self) -> bool:
        return self._session_redis is not None

    async def live_sessions(self, session_ids: Iterable[str]) -> set[str]:
        """Which of these sessions still exist in the store (all of them without a store).
        Raises ``RedisError`` when the store cannot be asked."""
        ids = list(dict.fromkeys(session_ids))
        if self._session_redis is None or not ids:
            return set(ids)
        async with self._session_redis.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.exists(SESSION_KEY_PREFIX + session_id)
            found = await pipe.execute()
        return {session_id for session_id, exists in zip(ids, found, strict=True) if exists}

    async def _merge_session(self, claims: dict[str, Any]) -> dict[str, Any]:
        session_id = claims.get("sessionId")
        if not isinstance(session_id, str) or not session_id or len(session_id) > 256:
            raise InvalidToken("session token without sessionId")
        assert self._session_redis is not None
        try:
            raw = await self._session_redis.get(SESSION_KEY_PREFIX + session_id)
        except RedisError as exc:
            log.warning("session store unreachable")
            raise Unavailable("Session store unavailable") from exc
        if raw is None:
            raise InvalidToken("session not found")
        try:
            session = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidToken("session unreadable") from exc
        if not isinstance(session, dict):
            raise InvalidToken("session unreadable")
        # The token's identity wins; the session supplies roles and display data.
        merged = {**session, **{k: v for k, v in claims.items() if v is not None}}
        for key in ("roleId", "fullname", "avatar", "email"):
            if key in session:
                merged[key] = session[key]
        if session.get("userId") not in (None, claims.get("userId")):
            raise InvalidToken("session belongs to another user")
        return merged
