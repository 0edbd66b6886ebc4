"""Group commit for ``hub:send``: the sends that arrive while a commit is in flight are checked,
stored and committed together in the next unit of work.

A lone send is committed at once (a batch of one); under load, batches grow by themselves, so the
per-transaction costs (BEGIN, room and moderation look-ups, COMMIT, the database round trips) are
paid once per batch instead of once per message. Nothing changes for a client: each send still
gets its own outcome, its broadcast still goes out only after its commit, and its ack only after
its broadcast. One socket's sends stay in order because a socket has one event in flight at a
time (``Connection.lock``).

One drainer task at a time runs the batches; it ends when the queue is empty, so no background
task outlives the traffic. A batch that fails for an unexpected reason is retried one send at a
time, so one bad message never costs another its delivery.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.errors import AppError, Unavailable
from tutorhub_messaging.hub.sending import SendRequest, Sent, send_many
from tutorhub_messaging.messages.service import StoredMessage
from tutorhub_messaging.ops.metrics import SEND_BATCH_SIZE, SEND_STAGE

log = logging.getLogger(__name__)

# Enough to amortise a commit, small enough that one batch's statements stay short.
MAX_BATCH = 200
_WAIT, _STORE, _BROADCAST, _ACK = (
    SEND_STAGE.labels(stage=stage) for stage in ("wait", "store", "broadcast", "ack")
)


@dataclass(slots=True)
class _Queued:
    request: SendRequest
    outcome: asyncio.Future[StoredMessage]
    queued_at: float = field(default_factory=time.perf_counter)
    settled_at: float | None = None  # when its batch's broadcasts were done


class SendBatcher:
    def __init__(self, context: AppContext, *, max_batch: int = MAX_BATCH) -> None:
        self.context = context
        self.max_batch = max_batch
        self._queue: list[_Queued] = []
        self._drainer: asyncio.Task[None] | None = None

    async def send(self, request: SendRequest) -> StoredMessage:
        """Store one send (with the others queued meanwhile); raises its error if it is refused."""
        outcome: asyncio.Future[StoredMessage] = asyncio.get_running_loop().create_future()
        queued = _Queued(request, outcome)
        self._queue.append(queued)
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        stored = await outcome
        if queued.settled_at is not None:
            # How long this task waited for the event loop after its batch was done.
            _ACK.observe(time.perf_counter() - queued.settled_at)
        return stored

    async def _drain(self) -> None:
        while self._queue:
            # One turn of the event loop first: sends already received join this batch.
            await asyncio.sleep(0)
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                await self._commit(batch)
            except Exception as exc:
                # _commit settles every send itself; this only guards against a bug there.
                log.exception("send batch failed")
                _settle_all(batch, exc)

    async def _commit(self, batch: list[_Queued]) -> None:
        requests = [queued.request for queued in batch]
        started = committed = time.perf_counter()

        async def mark_committed() -> None:
            nonlocal committed
            committed = time.perf_counter()

        try:
            async with self.context.db.unit_of_work() as uow:
                # Registered first, so it runs right after COMMIT, before the broadcasts.
                uow.after_commit(mark_committed)
                outcomes = await send_many(uow, self.context, requests, via="socket")
        except Unavailable as exc:
            _settle_all(batch, exc)  # every send would meet the same outage
            return
        except Exception:
            if len(batch) == 1:
                raise
            log.warning("send batch of %d failed: retrying its sends one by one", len(batch), exc_info=True)
            for queued in batch:
                # Already counted against the rate limit in the failed attempt.
                retry = SendRequest(
                    queued.request.principal, queued.request.room_id, queued.request.new, False
                )
                try:
                    await self._commit([_Queued(retry, queued.outcome)])
                except Exception as exc:
                    _settle(queued, exc)
            return
        # Committed, and the broadcasts have gone out (after-commit work runs before this).
        _observe_stages(batch, started, committed, time.perf_counter())
        for queued, outcome in zip(batch, outcomes, strict=True):
            _settle(queued, outcome)


def _observe_stages(batch: list[_Queued], started: float, committed: float, broadcast: float) -> None:
    SEND_BATCH_SIZE.observe(len(batch))
    for queued in batch:
        _WAIT.observe(started - queued.queued_at)
        queued.settled_at = broadcast
    _STORE.observe(committed - started)
    _BROADCAST.observe(broadcast - committed)


def _settle(queued: _Queued, outcome: Sent | AppError | Exception) -> None:
    if queued.outcome.done():  # the sender's task was cancelled meanwhile
        return
    if isinstance(outcome, Sent):
        queued.outcome.set_result(outcome.stored)
    else:
        queued.outcome.set_exception(outcome)


def _settle_all(batch: list[_Queued], exc: Exception) -> None:
    for queued in batch:
        _settle(queued, exc)
