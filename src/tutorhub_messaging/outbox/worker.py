"""The webhook delivery worker: one per process, started and stopped with the app.

Each endpoint has a loop of its own, so a slow or dead endpoint never holds up another one (nor
the service: deliveries run beside the requests, and the database sees one claim and one settle
per round, not one statement per event). A round settles the attempts that finished, then leases
due deliveries, each the oldest undelivered event of its room for that endpoint, and sends them
in parallel (one per room at a time, at most ``webhook_concurrency`` per endpoint): a room's next
event waits for the previous one's 2xx, so an endpoint receives every room's events in commit
order while rooms proceed side by side.

The lease (``webhook_lease_seconds``) is what makes several processes safe: a delivery leased by
one process is skipped by the others (on PostgreSQL the claim also takes ``FOR UPDATE SKIP
LOCKED``), and a process that dies leaves its leases to expire, after which any process, itself
after a restart included, delivers them. A delivery is at least once: a process killed after the
receiver's 2xx but before the settle makes the event arrive again, with the same id.

Failures (network errors, timeouts, non-2xx) are retried with exponential backoff and jitter until
the retry budget is spent; then the delivery is dead: kept, counted, listed and replayable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from tutorhub_messaging.db.database import Database
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.ops.metrics import (
    WEBHOOK_ATTEMPTS,
    WEBHOOK_DEAD,
    WEBHOOK_DEAD_LETTERS,
    WEBHOOK_PRUNED,
)
from tutorhub_messaging.outbox.events import OutboxOptions
from tutorhub_messaging.outbox.repository import Claimed, OutboxRepository
from tutorhub_messaging.outbox.signing import (
    EVENT_ID_HEADER,
    EVENT_TYPE_HEADER,
    SIGNATURE_HEADER,
    signature,
)
from tutorhub_messaging.settings import Settings

log = logging.getLogger(__name__)

PRUNE_BATCH = 1000
USER_AGENT = "TutorHub-Webhooks/1"


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    endpoints: tuple[str, ...]
    secret: bytes
    timeout: float
    retry_budget: float
    backoff_initial: float
    backoff_max: float
    concurrency: int
    poll: float
    batch: float
    lease: float
    retention: float

    @classmethod
    def from_settings(cls, settings: Settings) -> WebhookConfig:
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        return cls(
            endpoints=tuple(settings.webhook_urls),
            secret=secret.encode(),
            timeout=settings.webhook_timeout_seconds,
            retry_budget=settings.webhook_retry_budget_seconds,
            backoff_initial=settings.webhook_backoff_initial_seconds,
            backoff_max=settings.webhook_backoff_max_seconds,
            concurrency=settings.webhook_concurrency,
            poll=settings.webhook_poll_seconds,
            batch=settings.webhook_batch_seconds,
            lease=settings.webhook_lease_seconds,
            retention=settings.outbox_retention_seconds,
        )


@dataclass(frozen=True, slots=True)
class _Attempt:
    delivery: Claimed
    ok: bool
    status: int | None
    error: str


def _outcome(attempt: _Attempt) -> str:
    if attempt.ok:
        return "delivered"
    if attempt.status is not None:
        return "refused"  # a non-2xx answer
    return "timeout" if attempt.error.startswith("timeout") else "unreachable"


def next_attempt(config: WebhookConfig, delivery: Claimed, now: datetime) -> datetime | None:
    """When to try again after a failed attempt, or None once the retry budget is spent."""
    attempts = delivery.attempts + 1
    delay = min(config.backoff_max, config.backoff_initial * 2 ** min(attempts - 1, 30))
    delay *= random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
    at = now + timedelta(seconds=delay)
    if at > delivery.retry_from + timedelta(seconds=config.retry_budget):
        return None
    return at


class _EndpointLoop:
    def __init__(self, worker: DeliveryWorker, endpoint: str) -> None:
        self.worker = worker
        self.config = worker.config
        self.endpoint = endpoint
        self.signal = asyncio.Event()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.finished: list[_Attempt] = []

    async def run(self) -> None:
        limits = httpx.Limits(
            max_connections=self.config.concurrency, max_keepalive_connections=self.config.concurrency
        )
        async with httpx.AsyncClient(timeout=self.config.timeout, limits=limits) as client:
            loop = asyncio.get_running_loop()
            try:
                while True:
                    last_round = loop.time()
                    try:
                        await self._settle()
                        free = self.config.concurrency - len(self.in_flight)
                        if free > 0:
                            for delivery in await self._claim(free):
                                task = asyncio.create_task(self._deliver(client, delivery))
                                self.in_flight.add(task)
                                task.add_done_callback(self.in_flight.discard)
                    except Exception:
                        log.warning("webhook round failed for an endpoint; retrying", exc_info=True)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.signal.wait(), self.config.poll)
                    # Rounds at least ``batch`` apart: under load, what commits and finishes
                    # meanwhile is claimed and settled together, one transaction each per round.
                    await asyncio.sleep(max(0.0, last_round + self.config.batch - loop.time()))
                    self.signal.clear()
            finally:
                for task in list(self.in_flight):
                    task.cancel()
                await asyncio.gather(*self.in_flight, return_exceptions=True)
                try:
                    await asyncio.shield(self._settle())
                except Exception:
                    log.warning("could not settle webhook attempts at shutdown", exc_info=True)

    async def _claim(self, limit: int) -> list[Claimed]:
        now = utcnow()
        async with self.worker.db.unit_of_work() as uow:
            return await OutboxRepository(uow.session).claim(
                self.endpoint,
                now=now,
                lease_until=now + timedelta(seconds=self.config.lease),
                owner=self.worker.owner,
                limit=limit,
            )

    async def _deliver(self, client: httpx.AsyncClient, delivery: Claimed) -> None:
        body = delivery.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: delivery.event_id,
            EVENT_TYPE_HEADER: delivery.event_type,
            SIGNATURE_HEADER: signature(self.config.secret, body, int(time.time())),
        }
        try:
            # The whole exchange, not each read: a receiver trickling bytes cannot hold a slot.
            async with asyncio.timeout(self.config.timeout):
                response = await client.post(self.endpoint, content=body, headers=headers)
            ok = 200 <= response.status_code < 300
            attempt = _Attempt(
                delivery, ok, response.status_code, "" if ok else f"HTTP {response.status_code}"
            )
        except (httpx.TimeoutException, TimeoutError) as exc:
            attempt = _Attempt(delivery, False, None, f"timeout ({type(exc).__name__})")
        except (httpx.HTTPError, OSError) as exc:
            attempt = _Attempt(delivery, False, None, type(exc).__name__)
        WEBHOOK_ATTEMPTS.labels(outcome=_outcome(attempt)).inc()
        self.finished.append(attempt)
        self.signal.set()

    async def _settle(self) -> None:
        if not self.finished:
            return
        finished, self.finished = self.finished, []
        now = utcnow()
        dead = 0
        try:
            async with self.worker.db.unit_of_work() as uow:
                repository = OutboxRepository(uow.session)
                delivered = [a.delivery.id for a in finished if a.ok]
                if delivered:
                    await repository.mark_delivered(delivered, now=now, status=200)
                for attempt in finished:
                    if attempt.ok:
                        continue
                    retry_at = next_attempt(self.config, attempt.delivery, now)
                    dead += retry_at is None
                    await repository.mark_failed(
                        attempt.delivery.id,
                        owner=self.worker.owner,
                        now=now,
                        next_attempt_at=retry_at,
                        status=attempt.status,
                        error=attempt.error,
                    )
        except BaseException:
            self.finished[:0] = finished  # settled in a later round
            raise
        if dead:
            WEBHOOK_DEAD_LETTERS.inc(dead)
            log.warning("%d webhook deliveries dead-lettered after the retry budget", dead)


class DeliveryWorker:
    """Delivers the outbox to the configured webhooks, and prunes what was delivered."""

    def __init__(self, db: Database, config: WebhookConfig, options: OutboxOptions) -> None:
        self.db = db
        self.config = config
        self.owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.loops = {endpoint: _EndpointLoop(self, endpoint) for endpoint in config.endpoints}
        self._tasks: list[asyncio.Task[None]] = []
        options.wake = self.wake

    def wake(self) -> None:
        """New deliveries were committed: look for them now rather than at the next poll."""
        for loop in self.loops.values():
            loop.signal.set()

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(loop.run()) for loop in self.loops.values()]
        self._tasks.append(asyncio.create_task(self._prune_forever()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    async def _prune_forever(self) -> None:
        interval = min(60.0, max(self.config.retention / 2, 0.5))
        while True:
            try:
                await self.prune()
            except Exception:
                log.warning("outbox pruning failed; retrying later", exc_info=True)
            await asyncio.sleep(interval)

    async def prune(self) -> int:
        """Delete delivered deliveries and events older than the retention, in small batches."""
        before = utcnow() - timedelta(seconds=self.config.retention)
        total = 0
        while True:
            async with self.db.unit_of_work() as uow:
                removed = await OutboxRepository(uow.session).prune(before=before, limit=PRUNE_BATCH)
            total += removed
            if removed == 0:
                break
        if total:
            WEBHOOK_PRUNED.inc(total)
        async with self.db.unit_of_work() as uow:
            WEBHOOK_DEAD.set(await OutboxRepository(uow.session).count_dead())
        return total
