"""All SQL about idempotency keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.models import IdempotencyKey


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    fingerprint: str
    status_code: int
    body: str
    expires_at: datetime


class IdempotencyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, caller: str, key: str) -> StoredAnswer | None:
        row = (
            await self.session.execute(
                select(
                    IdempotencyKey.fingerprint,
                    IdempotencyKey.status_code,
                    IdempotencyKey.body,
                    IdempotencyKey.expires_at,
                ).where(IdempotencyKey.caller == caller, IdempotencyKey.key == key)
            )
        ).first()
        return None if row is None else StoredAnswer(*row)

    async def claim(
        self, caller: str, key: str, fingerprint: str, *, now: datetime, expires_at: datetime
    ) -> IdempotencyKey:
        """Insert the key before the work runs. A concurrent unit of work that inserted it first
        makes this wait for it (PostgreSQL) and then fail with an ``IntegrityError``."""
        row = IdempotencyKey(
            caller=caller,
            key=key,
            fingerprint=fingerprint,
            status_code=0,
            body="",
            created_at=now,
            expires_at=expires_at,
        )
        self.session.add(row)
        await self.session.flush()
        return row

    async def record_answer(self, row: IdempotencyKey, status_code: int, body: str) -> None:
        row.status_code = status_code
        row.body = body
        await self.session.flush()

    async def forget(self, caller: str, key: str) -> None:
        await self.session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.caller == caller, IdempotencyKey.key == key)
        )

    async def delete_expired(self, now: datetime) -> int:
        result = await self.session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)
