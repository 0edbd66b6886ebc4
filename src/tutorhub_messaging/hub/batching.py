"""Group commit for ``hub:send``: the sends that arrive while a commit is in flight are checked,
stored and committed together in the next unit of work.

A lone send is committed at once (a batch of one); under load, batches grow by themselves, so the
per-transaction costs (BEGIN, room and moderation look-ups, COMMIT, the database round trips) are
paid once per batch instead of once per message. Nothing changes for a client: each send still
gets its own outcome, its broadcast still goes out only after its commit, and its ack only after
its broadcast. One socket's sends stay in order because a socket has one event in flight at a
time (``Connection.lock``).

The batches are those of ``microbatch.MicroBatcher``: a batch that fails for an unexpected reason
is retried one send at a time, so one bad message never costs another its delivery.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.errors import AppError
from tutorhub_messaging.hub.sending import SendRequest, Sent, send_many
from tutorhub_messaging.messages.service import StoredMessage
from tutorhub_messaging.microbatch import MicroBatcher
from tutorhub_messaging.ops.metrics import SEND_BATCH_SIZE, SEND_STAGE

# Enough to amortise a commit, small enough that one batch's statements stay short.
MAX_BATCH = 200
_WAIT, _STORE, _BROADCAST, _ACK = (
    SEND_STAGE.labels(stage=stage) for stage in ("wait", "store", "broadcast", "ack")
)


@dataclass(slots=True)
class _Queued:
    request: SendRequest
    queued_at: float = field(default_factory=time.perf_counter)
    settled_at: float | None = None  # when its batch's broadcasts were done


class SendBatcher:
    def __init__(self, context: AppContext, *, max_batch: int = MAX_BATCH) -> None:
        self.context = context
        self._batches = MicroBatcher[_Queued, Sent](
            "send", self._commit, max_batch=max_batch, retry_item=_uncounted
        )

    async def send(self, request: SendRequest) -> StoredMessage:
        """Store one send (with the others queued meanwhile); raises its error if it is refused."""
        queued = _Queued(request)
        sent = await self._batches.submit(queued)
        if queued.settled_at is not None:
            # How long this task waited for the event loop after its batch was done.
            _ACK.observe(time.perf_counter() - queued.settled_at)
        return sent.stored

    async def _commit(self, batch: list[_Queued]) -> list[Sent | AppError]:
        started = committed = time.perf_counter()

        async def mark_committed() -> None:
            nonlocal committed
            committed = time.perf_counter()

        async with self.context.db.unit_of_work() as uow:
            # Registered first, so it runs right after COMMIT, before the broadcasts.
            uow.after_commit(mark_committed)
            outcomes = await send_many(uow, self.context, [queued.request for queued in batch], via="socket")
        # Committed, and the broadcasts have gone out (after-commit work runs before this).
        _observe_stages(batch, started, committed, time.perf_counter())
        return outcomes


def _uncounted(queued: _Queued) -> _Queued:
    """A send retried alone after its batch failed: already counted against the rate limit."""
    request = queued.request
    queued.request = SendRequest(request.principal, request.room_id, request.new, False)
    return queued


def _observe_stages(batch: list[_Queued], started: float, committed: float, broadcast: float) -> None:
    SEND_BATCH_SIZE.observe(len(batch))
    for queued in batch:
        _WAIT.observe(started - queued.queued_at)
        queued.settled_at = broadcast
    _STORE.observe(committed - started)
    _BROADCAST.observe(broadcast - committed)
