"""Engine, sessions and the unit of work.

One unit of work per REST request or socket event: it commits or rolls back as a whole, and the
realtime events it collected are sent only after a successful commit (dropped on rollback), so
nothing is announced that was not stored.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tutorhub_messaging.db.sqlite import (
    WalCheckpoints,
    create_sqlite_engine,
    create_sqlite_search_engine,
)
from tutorhub_messaging.errors import RateLimited, SearchTimedOut, Unavailable
from tutorhub_messaging.ops.metrics import SEARCH_REFUSALS

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
BeforeCommit = Callable[[], Awaitable[None]]

# Where a session keeps its unit of work (``UnitOfWork.of``).
_UOW_KEY = "unit_of_work"


class UnitOfWork:
    """A session, the writes to make just before its commit (in its transaction), and the work to
    do once its transaction has committed."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._before_commit: list[BeforeCommit] = []
        self._after_commit: list[AfterCommit] = []
        session.info[_UOW_KEY] = self

    @staticmethod
    def of(session: AsyncSession) -> UnitOfWork:
        """The unit of work a session belongs to."""
        uow = session.info.get(_UOW_KEY)
        if not isinstance(uow, UnitOfWork):
            raise RuntimeError("this session does not belong to a unit of work")
        return uow

    def before_commit(self, callback: BeforeCommit) -> None:
        """Run ``callback`` in the transaction, after the unit's own work and just before COMMIT
        (e.g. one multi-row insert of what the work staged); if it fails, nothing commits."""
        self._before_commit.append(callback)

    def after_commit(self, callback: AfterCommit) -> None:
        self._after_commit.append(callback)

    async def _run_before_commit(self) -> None:
        while self._before_commit:
            callback = self._before_commit.pop(0)
            await callback()

    async def _run_after_commit(self) -> None:
        for callback in self._after_commit:
            try:
                await callback()
            except Exception:
                # The data is committed; a failed announcement must not turn into a failed call.
                log.exception("after-commit callback failed")
        self._after_commit.clear()


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    if url.startswith("sqlite"):
        return create_sqlite_engine(url)
    return create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=30,
        pool_pre_ping=True,  # a restarted PostgreSQL costs one failed ping, not a failed request
        pool_recycle=1800,
    )


@dataclass(frozen=True, slots=True)
class SearchLimits:
    """How searches are kept from starving everything else."""

    connections: int = 1  # searches running at once in this process, on connections of their own
    timeout_seconds: float = 5.0  # a search's transaction is stopped after this long
    per_user: int = 2  # searches of one user running at once in this process
    # Seconds of searching one user may spend per minute in this process (None: no bound), and
    # how many of them back to back (the bucket's size: see ``_SearchGate``).
    seconds_per_user: float | None = None
    burst_seconds: float = 2.0


def create_postgres_search_engine(url: str, limits: SearchLimits) -> AsyncEngine:
    """A small pool of its own, so searches never take the connections sends and joins need, and
    a statement timeout on each search transaction."""
    engine = create_async_engine(
        url,
        pool_size=limits.connections,
        max_overflow=0,
        pool_timeout=30,
        pool_pre_ping=True,
        pool_recycle=1800,
    )
    timeout_ms = max(1, int(limits.timeout_seconds * 1000))

    @event.listens_for(engine.sync_engine, "begin")
    def _statement_timeout(connection: Any) -> None:
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {timeout_ms}")

    return engine


def _is_timeout(exc: DBAPIError) -> bool:
    """SQLite's progress handler interrupted it, or PostgreSQL's statement timeout cancelled it."""
    text_of = str(exc.orig).lower()
    return "interrupted" in text_of or "statement timeout" in text_of


class _SearchClock:
    started: float | None = None

    def start(self) -> None:
        self.started = time.monotonic()


@dataclass(slots=True)
class _Bucket:
    seconds: float  # search time the user may still spend now (negative: owed)
    at: float  # when ``seconds`` was last brought up to date


class _SearchGate:
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
        clock = _SearchClock()
        if user_id is None:
            yield clock
            return
        running = self._running.get(user_id, 0)
        if running >= self.per_user:
            SEARCH_REFUSALS.labels(reason="concurrency").inc()
            raise RateLimited(
                f"At most {self.per_user} searches at once: wait for one to finish", retry_after=1
            )
        self._check_time(user_id)
        self._running[user_id] = running + 1
        try:
            yield clock
        finally:
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


class Database:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        search: SearchLimits | None = None,
        session_info: dict[str, Any] | None = None,
    ) -> None:
        """``session_info`` starts every session's ``info`` (services that write at commit find
        their configuration there, e.g. the outbox)."""
        self.url = url
        self.engine = create_engine(url, pool_size=pool_size)
        self.sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False, info=session_info or {}
        )
        limits = search or SearchLimits()
        # Searches that may scan a whole table run on connections of their own with a time limit:
        # on SQLite, read-only connections on worker threads, so a long scan holds up neither the
        # event loop nor the writer; on PostgreSQL, a small pool beside the main one.
        self.search_engine = (
            create_sqlite_search_engine(
                url, connections=limits.connections, timeout_seconds=limits.timeout_seconds
            )
            if url.startswith("sqlite")
            else create_postgres_search_engine(url, limits)
        )
        self.search_gate = _SearchGate(limits)
        # SQLite files: the WAL is checkpointed off the event loop (see WalCheckpoints).
        self.checkpoints = WalCheckpoints(self.engine) if url.startswith("sqlite") else None
        self.search_sessions = async_sessionmaker(self.search_engine, expire_on_commit=False, autoflush=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._unit_of_work(self.sessions)

    @asynccontextmanager
    async def search(self, user_id: str | None = None) -> AsyncIterator[UnitOfWork]:
        """A unit of work for one read that may scan many rows (message search), on the search
        connections, stopped after the search timeout (``SearchTimedOut``). A user with as many
        searches running as allowed is refused (``RateLimited``). On SQLite it cannot write
        (``query_only``) and runs off the event loop."""
        with self.search_gate.enter(user_id) as clock:
            try:
                async with self._unit_of_work(self.search_sessions) as uow:
                    await uow.session.connection()  # waits for a search connection, if need be
                    clock.start()
                    yield uow
            except (Unavailable, DBAPIError) as exc:
                cause = exc.__cause__ if isinstance(exc, Unavailable) else exc
                if isinstance(cause, DBAPIError) and _is_timeout(cause):
                    SEARCH_REFUSALS.labels(reason="timeout").inc()
                    raise SearchTimedOut() from exc
                raise

    @asynccontextmanager
    async def _unit_of_work(self, sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[UnitOfWork]:
        try:
            async with sessions() as session:
                uow = UnitOfWork(session)
                try:
                    yield uow
                    await uow._run_before_commit()
                    await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
        except (OperationalError, PoolTimeout, OSError, ConnectionError) as exc:
            log.warning("database unavailable: %s", type(exc).__name__)
            raise Unavailable() from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                log.warning("database connection lost")
                raise Unavailable() from exc
            raise
        await uow._run_after_commit()

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        if self.checkpoints is not None:
            await self.checkpoints.close()
        await self.engine.dispose()
        if self.search_engine is not None:
            await self.search_engine.dispose()
