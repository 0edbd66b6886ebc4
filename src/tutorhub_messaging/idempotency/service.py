"""Running a service call once per ``Idempotency-Key``.

The key is claimed (a row unique per calling service and key) in the same unit of work as the
call's work, and the call's answer is written to that row before it commits. So:

- a retry after the commit finds the row and gets the stored answer (status and body), and no
  work is done again;
- a retry racing the first call waits for it: on PostgreSQL its insert of the same key blocks
  until the first unit of work ends, on SQLite units of work are serialised anyway. If the first
  committed, the retry answers what it answered; if it rolled back (an error), the retry does
  the work itself;
- a failed call (any error) stores nothing, so the same key may be retried;
- the same key with another request (operation, target or body) is refused with 409.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson
from fastapi import Request
from sqlalchemy.exc import IntegrityError
from starlette.responses import Response

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.errors import IdempotencyKeyReused, InvalidInput
from tutorhub_messaging.idempotency.repository import IdempotencyRepository, StoredAnswer
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.ops.metrics import IDEMPOTENCY_KEYS
from tutorhub_messaging.rest.responses import JsonResponse

HEADER = "Idempotency-Key"
# The key column's size: longer keys are refused rather than truncated (two would collide).
MAX_KEY_LENGTH = 255
_KEY = re.compile(r"^[\x21-\x7e]+$")  # visible ASCII: what HTTP carries unchanged
REPLAYED_HEADER = "Idempotent-Replayed"

Work = Callable[[UnitOfWork], Awaitable[JsonResponse]]


def check_key(value: str | None) -> str | None:
    """The header's key, or None without one; a malformed or too long key is a 400."""
    if value is None:
        return None
    if len(value) > MAX_KEY_LENGTH:
        IDEMPOTENCY_KEYS.labels(outcome="refused").inc()
        raise InvalidInput(
            f"{HEADER} must be at most {MAX_KEY_LENGTH} characters", key="errMsg_idempotencyKeyTooLong"
        )
    if not _KEY.match(value):
        IDEMPOTENCY_KEYS.labels(outcome="refused").inc()
        raise InvalidInput(
            f"{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters",
            key="errMsg_idempotencyKeyisNotValid",
        )
    return value


def fingerprint(request: Request, target: str | None, body: Any) -> str:
    """What makes two requests the same: the route, its (normalised) target id and the parsed body."""
    route = request.scope.get("route")
    operation = f"{request.method} {getattr(route, 'path', request.url.path)}"
    canonical = orjson.dumps([operation, target, body], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _caller_of(principal: Principal) -> str:
    return principal.service_name or principal.user_id


def _replay(stored: StoredAnswer, request_fingerprint: str) -> Response:
    if stored.fingerprint != request_fingerprint:
        IDEMPOTENCY_KEYS.labels(outcome="reused").inc()
        raise IdempotencyKeyReused()
    IDEMPOTENCY_KEYS.labels(outcome="replayed").inc()
    return Response(
        content=stored.body,
        status_code=stored.status_code,
        media_type="application/json",
        headers={REPLAYED_HEADER: "true"},
    )


async def run_once(
    context: AppContext, caller: Principal, key: str | None, request_fingerprint: str, work: Work
) -> Response:
    """Run ``work`` in one unit of work, at most once per (caller, key) while the key is kept."""
    if key is None:
        async with context.db.unit_of_work() as uow:
            return await work(uow)
    owner = _caller_of(caller)
    try:
        async with context.db.unit_of_work() as uow:
            keys = IdempotencyRepository(uow.session)
            now = utcnow()
            stored = await keys.get(owner, key)
            if stored is not None and stored.expires_at > now:
                return _replay(stored, request_fingerprint)
            if stored is not None:
                await keys.forget(owner, key)  # expired, not yet pruned: a new first call
            row = await keys.claim(
                owner,
                key,
                request_fingerprint,
                now=now,
                expires_at=now + timedelta(seconds=context.settings.idempotency_key_ttl_seconds),
            )
            response = await work(uow)
            await keys.record_answer(row, response.status_code, bytes(response.body).decode())
    except IntegrityError:
        # Another call with this key committed while this one ran: answer what it answered.
        async with context.db.unit_of_work() as uow:
            stored = await IdempotencyRepository(uow.session).get(owner, key)
        if stored is None:
            raise  # the conflict was the work's own, not the key's
        return _replay(stored, request_fingerprint)
    IDEMPOTENCY_KEYS.labels(outcome="stored").inc()
    return response
