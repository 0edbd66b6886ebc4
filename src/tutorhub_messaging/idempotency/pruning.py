"""Expired idempotency keys are deleted by every process, every ``idempotency_prune_interval_seconds``.

A key past its lifetime is already treated as unknown when it is used again; pruning only keeps
the table small. Several processes pruning at once delete the same rows harmlessly.
"""

from __future__ import annotations

import asyncio
import logging

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.db.database import Database
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.idempotency.repository import IdempotencyRepository
from tutorhub_messaging.ops.metrics import IDEMPOTENCY_KEYS_PRUNED

log = logging.getLogger(__name__)


async def prune_expired_keys(db: Database) -> int:
    """Delete every key past its lifetime; returns how many."""
    async with db.unit_of_work() as uow:
        deleted = await IdempotencyRepository(uow.session).delete_expired(utcnow())
    IDEMPOTENCY_KEYS_PRUNED.inc(deleted)
    return deleted


def install_pruning(context: AppContext) -> None:
    interval = context.settings.idempotency_prune_interval_seconds

    async def run() -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await prune_expired_keys(context.db)
            except Exception:
                log.warning("pruning expired idempotency keys failed; trying again later", exc_info=True)

    context.run_while_serving(run)
