"""How message searches are kept from starving everything else, per user and per process.

A search may scan every message a user can see, and keeps a core of the database busy while it
does. Two bounds hold it: each user's searches (how many at once, and how much search time a
minute: ``SearchGate``), and all the searches of the process together (how busy they may keep
their connections: ``SearchPace``).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from tutorhub_messaging.errors import RateLimited, Unavailable
from tutorhub_messaging.ops.metrics import SEARCH_REFUSALS


@dataclass(frozen=True, slots=True)
class SearchLimits:
    """How searches are kept from starving everything else."""

    connections: int = 1  # searches running at once in this process, on connections of their own
    timeout_seconds: float = 5.0  # a search's transaction is stopped after this long
    per_user: int = 2  # searches of one user running at once in this process
    # Seconds of searching one user may spend per minute in this process (None: no bound), and
    # how many of them back to back (the bucket's size: see ``SearchGate``).
    seconds_per_user: float | None = None
    burst_seconds: float = 2.0
    # The share of the time each search connection may be busy (1: no rest; see ``SearchPace``).
    busy_share: float = 1.0
    # How long a search may wait for a connection before it is refused (503).
    wait_seconds: float = 30.0
    # A refused search is answered after a random pause of up to this long (0: at once; see
    # ``RefusalPause``).
    refusal_pause_seconds: float = 0.0


class _SearchClock:
    started: float | None = None

    def start(self) -> None:
        self.started = time.monotonic()


@dataclass(slots=True)
class _Bucket:
    seconds: float  # search time the user may still spend now (negative: owed)
    at: float  # when ``seconds`` was last brought up to date


class SearchGate:
    """Searches of one user in this process: how many run at once, and at what pace they may take
    search time. A search may scan every message a user can see and keeps a core of the database
    busy while it does. Each user has a bucket of search time: ``burst_seconds`` full, refilled at
    ``seconds_per_user`` a minute, and each search takes what it lasted (a long one leaves the
    bucket owing). A user is admitted while their bucket holds some time. So someone searching
    without pause gets a short burst, then a steady share of a few seconds a minute: their load on
    the database is spread thin instead of taking a core for seconds on end, which is what
    delays everyone else's sends."""

    # Past this many users remembered, the ones whose buckets are full again are forgotten.
    SWEEP_AT = 10_000
    # The longest Retry-After given for time owed (a user owing more is told to come back then).
    MAX_RETRY_AFTER = 3600

    def __init__(self, limits: SearchLimits) -> None:
        self.per_user = limits.per_user
        self.rate = limits.seconds_per_user / 60.0 if limits.seconds_per_user is not None else None
        self.per_minute = limits.seconds_per_user
        self.burst = limits.burst_seconds
        self._running: dict[str, int] = {}
        self._buckets: dict[str, _Bucket] = {}

    @contextmanager
    def enter(self, user_id: str | None) -> Iterator[_SearchClock]:
        """Admit one search of ``user_id`` (or refuse it); its time counts from ``clock.start()``
        (once it holds a search connection: waiting for one is not the user's doing)."""
        clock = self.admit(user_id)
        try:
            yield clock
        finally:
            self.leave(user_id, clock)

    def admit(self, user_id: str | None) -> _SearchClock:
        """``enter`` in two halves, for a caller that must do something (async) on a refusal:
        ``RateLimited``, or a clock to hand back to ``leave`` when the search is over."""
        if user_id is None:
            return _SearchClock()
        running = self._running.get(user_id, 0)
        if running >= self.per_user:
            SEARCH_REFUSALS.labels(reason="concurrency").inc()
            raise RateLimited(
                f"At most {self.per_user} searches at once: wait for one to finish", retry_after=1
            )
        self._check_time(user_id)
        self._running[user_id] = running + 1
        return _SearchClock()

    def leave(self, user_id: str | None, clock: _SearchClock) -> None:
        if user_id is None:
            return
        left = self._running[user_id] - 1
        if left:
            self._running[user_id] = left
        else:
            del self._running[user_id]
        if clock.started is not None:
            self._charge(user_id, time.monotonic() - clock.started)

    def _refilled(self, user_id: str, now: float) -> _Bucket | None:
        bucket = self._buckets.get(user_id)
        if bucket is not None and self.rate is not None:
            bucket.seconds = min(self.burst, bucket.seconds + (now - bucket.at) * self.rate)
            bucket.at = now
        return bucket

    def _check_time(self, user_id: str) -> None:
        if self.rate is None:
            return
        bucket = self._refilled(user_id, time.monotonic())
        if bucket is None or bucket.seconds > 0:
            return
        SEARCH_REFUSALS.labels(reason="time").inc()
        retry_after = min(self.MAX_RETRY_AFTER, max(1, math.ceil(-bucket.seconds / self.rate)))
        raise RateLimited(
            f"Searches may take at most {self.per_minute:g} s per minute per user "
            f"({self.burst:g} s back to back): try again in {retry_after} s",
            retry_after=retry_after,
        )

    def _charge(self, user_id: str, seconds: float) -> None:
        if self.rate is None:
            return
        now = time.monotonic()
        bucket = self._refilled(user_id, now)
        if bucket is None:
            bucket = self._buckets[user_id] = _Bucket(self.burst, now)
        bucket.seconds -= seconds
        if len(self._buckets) > self.SWEEP_AT:
            for user in [
                u for u, b in self._buckets.items() if b.seconds + (now - b.at) * self.rate >= self.burst
            ]:
                del self._buckets[user]


class SearchPace:
    """All the searches of this process: at most ``connections`` at once, and each connection
    rests after a search, so that searching keeps it busy at most ``busy_share`` of the time.

    The per-user buckets bound what one user takes; this bounds what all of them take together.
    Searches one after the other (many users, or one user's burst) would otherwise keep a core of
    the database busy without a pause, and every send and join of the process waits behind it
    for CPU. After a search of ``t`` seconds its connection takes no other search for
    ``t * (1 / busy_share - 1)`` seconds: with a share of 0.5, a search of 40 ms is followed by
    40 ms in which the database serves only the rest of the service. The answer is not delayed:
    only the next search waits.
    """

    def __init__(self, limits: SearchLimits) -> None:
        self.rest_factor = 1.0 / limits.busy_share - 1.0
        self.wait_seconds = limits.wait_seconds
        self._slots = asyncio.Semaphore(limits.connections)

    @asynccontextmanager
    async def slot(self, clock: _SearchClock) -> AsyncIterator[None]:
        """Wait for a rested connection slot (``Unavailable`` after ``wait_seconds``); the search
        runs from ``clock.start()`` to the end of the block."""
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            SEARCH_REFUSALS.labels(reason="busy").inc()
            raise Unavailable("Searches are busy: try again shortly", key="errMsg_searchBusy") from None
        try:
            yield
        finally:
            rest = (time.monotonic() - clock.started) * self.rest_factor if clock.started else 0.0
            if rest > 0:
                asyncio.get_running_loop().call_later(rest, self._slots.release)
            else:
                self._slots.release()


class RefusalPause:
    """A refused search is answered after a random pause of up to ``max_seconds``.

    A client with many searches in flight (a retry loop, a script) has most of them refused at
    the same moment; told to come back in a second, they all come back in the same millisecond,
    and every second the process serves a burst of refusals back to back while the sends and
    joins of everyone else wait behind it. Paused by a random share of ``max_seconds`` each, the
    refusals, and so the retries, spread out. A pause costs a timer and no CPU; past
    ``max_waiting`` paused at once, refusals are answered at once, so pauses cannot pile up.
    """

    def __init__(self, max_seconds: float, max_waiting: int = 1000) -> None:
        self.max_seconds = max_seconds
        self.max_waiting = max_waiting
        self.waiting = 0

    async def before_answering(self) -> None:
        if self.max_seconds <= 0 or self.waiting >= self.max_waiting:
            return
        self.waiting += 1
        try:
            await asyncio.sleep(random.uniform(0, self.max_seconds))  # noqa: S311 - jitter, not a secret
        finally:
            self.waiting -= 1
