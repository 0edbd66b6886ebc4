"""Micro-batching: the items submitted while a batch is being handled are handled together in the
next one, so a burst pays a fixed cost (a transaction, a round trip) once per batch instead of
once per item.

A lone item is handled at once (a batch of one); under load, batches grow by themselves. One
drainer task at a time hands the batches over, in submission order, and ends when the queue is
empty, so no background task outlives the traffic.

Each item gets its own outcome. The handler returns one outcome per item (a result, or the
exception that item's submitter gets); if it raises instead:

- ``Unavailable`` (the database or Redis is out) answers the whole batch, since every item would
  meet the same outage;
- any other error makes each item of a batch of several be handled again alone (through
  ``retry_item``), so one item that cannot be handled never costs the others their outcome.

A submitter that is cancelled leaves its item queued: it is handled all the same (a send already
accepted is stored). A drainer that is cancelled (the process is stopping) answers the batch it
had on its way and everything still queued with ``abandoned()``, even when it never began
running, so nobody waits forever for it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from tutorhub_messaging.errors import Unavailable

Item = TypeVar("Item")
Result = TypeVar("Result")

log = logging.getLogger(__name__)


class MicroBatcher(Generic[Item, Result]):
    def __init__(
        self,
        name: str,
        handle: Callable[[list[Item]], Awaitable[Sequence[Result | Exception]]],
        *,
        max_batch: int,
        gather_first: bool = True,
        retry_item: Callable[[Item], Item] = lambda item: item,
        abandoned: Callable[[], Result | Exception] = Unavailable,
    ) -> None:
        """``gather_first``: let the event loop run once before each batch, so that the items of
        the events already received join it. ``abandoned``: the outcome of the items of a
        cancelled drainer."""
        self.name = name
        self.max_batch = max_batch
        self._handle = handle
        self._gather_first = gather_first
        self._retry_item = retry_item
        self._abandoned = abandoned
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._drainer: asyncio.Task[None] | None = None
        # Held from taking a batch to the end of its handling. Whoever else holds it holds the
        # batches back while the queue goes on growing.
        self.turn = asyncio.Lock()

    @property
    def waiting(self) -> int:
        """Items queued for a batch not yet begun."""
        return len(self._queue)

    async def submit(self, item: Item) -> Result:
        """Queue ``item`` and wait for its outcome: its result, or the exception it raises."""
        return await asyncio.shield(self.enqueue(item))

    def enqueue(self, item: Item) -> asyncio.Future[Result]:
        """Queue ``item``; the future settles with its outcome (several callers may await it)."""
        outcome: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, outcome))
        if self._drainer is None or self._drainer.done():
            self._start_drainer()
        return outcome

    def _start_drainer(self) -> None:
        current: list[tuple[Item, asyncio.Future[Result]]] = []  # the batch on its way
        drainer = asyncio.create_task(self._drain(current), name=f"{self.name} batches")
        drainer.add_done_callback(functools.partial(self._drainer_ended, current))
        self._drainer = drainer

    async def _drain(self, current: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        while self._queue:
            if self._gather_first:
                await asyncio.sleep(0)
            async with self.turn:
                current[:] = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                try:
                    await self._run(current)
                except Exception as exc:
                    # _run answers every item itself; this only guards against a bug there.
                    log.exception("%s batch failed", self.name)
                    _settle_all(current, exc)
                current.clear()

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            outcomes = await self._handle([item for item, _outcome in batch])
        except Unavailable as exc:
            _settle_all(batch, exc)
            return
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            log.warning(
                "%s batch of %d failed: handling its items one by one", self.name, len(batch), exc_info=True
            )
            for item, outcome in batch:
                await self._run([(self._retry_item(item), outcome)])
            return
        for (_item, outcome), result in zip(batch, outcomes, strict=True):
            _settle(outcome, result)

    def _drainer_ended(
        self, current: list[tuple[Item, asyncio.Future[Result]]], drainer: asyncio.Task[None]
    ) -> None:
        # A done callback runs even when the task was cancelled before its coroutine began.
        if not drainer.cancelled():
            return
        abandoned = list(current)
        if self._drainer is drainer:  # else a new drainer has taken the queue over
            abandoned += self._queue
            self._queue.clear()
        for _item, outcome in abandoned:
            _settle(outcome, self._abandoned())


def _settle(outcome: asyncio.Future[Result], result: Result | Exception) -> None:
    if outcome.done():  # answered already (a retry, or a cancelled drainer's callback)
        return
    if isinstance(result, Exception):
        outcome.set_exception(result)
        outcome.exception()  # marked as read: its submitter may have gone
    else:
        outcome.set_result(result)


def _settle_all(batch: Sequence[tuple[object, asyncio.Future[Result]]], exc: Exception) -> None:
    for _item, outcome in batch:
        _settle(outcome, exc)
