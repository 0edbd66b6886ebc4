"""Engine, sessions and the unit of work.

One unit of work per REST request or socket event: it commits or rolls back as a whole, and the
realtime events it collected are sent only after a successful commit (dropped on rollback), so
nothing is announced that was not stored.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
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

from tutorhub_messaging.db.search_limits import RefusalPause, SearchGate, SearchLimits, SearchPace
from tutorhub_messaging.db.sqlite import (
    READ_ONLY_OPTION,
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
        self.search_gate = SearchGate(limits)
        self.search_pace = SearchPace(limits)
        self.refusal_pause = RefusalPause(limits.refusal_pause_seconds)
        # SQLite files: the WAL is checkpointed off the event loop (see WalCheckpoints).
        self.checkpoints = WalCheckpoints(self.engine) if url.startswith("sqlite") else None
        self.search_sessions = async_sessionmaker(self.search_engine, expire_on_commit=False, autoflush=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def unit_of_work(self) -> AbstractAsyncContextManager[UnitOfWork]:
        return self._unit_of_work(self.sessions)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[UnitOfWork]:
        """A unit of work that only reads. On SQLite it begins without taking the write lock
        (every other unit of work takes it at BEGIN): a process beside the service (``deliver``)
        then holds the lock only while it writes, and the service's commits wait less."""
        async with self._unit_of_work(self.sessions) as uow:
            await uow.session.connection(execution_options={READ_ONLY_OPTION: True})
            yield uow

    @asynccontextmanager
    async def search(self, user_id: str | None = None) -> AsyncIterator[UnitOfWork]:
        """A unit of work for one read that may scan many rows (message search), on the search
        connections, stopped after the search timeout (``SearchTimedOut``). A user with as many
        searches running as allowed, or out of search time, is refused (``RateLimited``, after
        the refusal pause). On SQLite it cannot write
        (``query_only``) and runs off the event loop."""
        try:
            clock = self.search_gate.admit(user_id)
        except RateLimited:
            await self.refusal_pause.before_answering()
            raise
        try:
            async with self.search_pace.slot(clock), self._unit_of_work(self.search_sessions) as uow:
                await uow.session.connection()
                clock.start()
                yield uow
        except (Unavailable, DBAPIError) as exc:
            cause = exc.__cause__ if isinstance(exc, Unavailable) else exc
            if isinstance(cause, DBAPIError) and _is_timeout(cause):
                SEARCH_REFUSALS.labels(reason="timeout").inc()
                raise SearchTimedOut() from exc
            raise
        finally:
            self.search_gate.leave(user_id, clock)

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

    async def warm_up(self) -> None:
        """Open a search connection before the first search needs one. A new connection costs
        round trips and work on the event loop (on PostgreSQL the driver's first-connect queries
        and type codecs); paid once the process serves (the app runs this in the background), it
        is not paid by the first searches of a burst, while the sends of everyone else wait behind
        them. A database that cannot be reached now is not fatal here: the first search opens
        the connection."""
        try:
            async with self.search_engine.connect():
                pass
        except (DBAPIError, OSError) as exc:
            log.warning("could not open a search connection at startup: %s", exc)

    async def dispose(self) -> None:
        if self.checkpoints is not None:
            await self.checkpoints.close()
        await self.engine.dispose()
        if self.search_engine is not None:
            await self.search_engine.dispose()
