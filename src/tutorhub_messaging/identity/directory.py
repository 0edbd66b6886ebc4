"""The local user directory: names and avatars of users, known even while they are offline."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.models import Conversation, DirectoryUser
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.db.upsert import excluded, insert_on
from tutorhub_messaging.identity.principal import Principal


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    id: str
    fullname: str | None
    avatar: str | None
    role_id: str | None


@cache
def _upsert(dialect: str, keep_known_values: bool) -> Any:
    """Built once per dialect and mode: a first connect writes it, and connects come in bursts."""
    stmt = insert_on(dialect, DirectoryUser).values(
        {name: bindparam(name) for name in ("id", "fullname", "avatar", "role_id", "updated_at")}
    )
    table = DirectoryUser.__table__.c
    values: dict[str, ColumnElement[Any]]
    if keep_known_values:
        values = {
            name: func.coalesce(excluded(stmt, name), table[name])
            for name in ("fullname", "avatar", "role_id")
        }
    else:
        values = {name: excluded(stmt, name) for name in ("fullname", "avatar", "role_id")}
    values["updated_at"] = excluded(stmt, "updated_at")
    return stmt.on_conflict_do_update(index_elements=["id"], set_=values)


# Whether the directory row and the names conversations cache already say what a token says:
# its values, and whether any conversation of the user caches another name (or none).
_NAMES = (
    (Conversation.participant_a, Conversation.participant_a_name),
    (Conversation.participant_b, Conversation.participant_b_name),
)
_CACHED_NAMES_DIFFER = exists().where(
    or_(
        *(
            and_(participant == bindparam("id"), or_(cached.is_(None), cached != bindparam("name")))
            for participant, cached in _NAMES
        )
    )
)
_HELD = select(
    DirectoryUser.fullname, DirectoryUser.avatar, DirectoryUser.role_id, _CACHED_NAMES_DIFFER
).where(DirectoryUser.id == bindparam("id"))


class DirectoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, entry: DirectoryEntry, *, keep_known_values: bool) -> None:
        """Insert or update a user. With ``keep_known_values``, a missing value keeps the stored one.

        A known name is also copied into the names conversations cache for their participants
        (``participantAName``/``participantBName``), so inboxes show it and follow its changes.
        """
        statement = _upsert(self.session.get_bind().dialect.name, keep_known_values)
        await self.session.execute(
            statement,
            {
                "id": entry.id,
                "fullname": entry.fullname,
                "avatar": entry.avatar,
                "role_id": entry.role_id,
                "updated_at": utcnow(),
            },
        )
        if entry.fullname:
            await self._copy_name_into_conversations(entry.id, entry.fullname)

    async def holds(self, entry: DirectoryEntry) -> bool:
        """Whether ``upsert(entry, keep_known_values=True)`` would change nothing but the row's
        ``updated_at``: one read, so a known user's connect or call writes nothing."""
        row = (await self.session.execute(_HELD, {"id": entry.id, "name": entry.fullname or ""})).first()
        if row is None:
            return False
        fullname, avatar, role_id, names_differ = row
        if entry.fullname and names_differ:
            return False
        return all(
            new is None or new == stored
            for new, stored in ((entry.fullname, fullname), (entry.avatar, avatar), (entry.role_id, role_id))
        )

    async def _copy_name_into_conversations(self, user_id: str, fullname: str) -> None:
        for participant, cached in _NAMES:
            await self.session.execute(
                update(Conversation)
                .where(participant == user_id, or_(cached.is_(None), cached != fullname))
                .values({cached: fullname})
                .execution_options(synchronize_session=False)
            )

    async def get(self, user_id: str) -> DirectoryEntry | None:
        row = await self.session.get(DirectoryUser, user_id)
        return None if row is None else DirectoryEntry(row.id, row.fullname, row.avatar, row.role_id)

    async def get_many(self, user_ids: list[str]) -> dict[str, DirectoryEntry]:
        if not user_ids:
            return {}
        rows = await self.session.scalars(select(DirectoryUser).where(DirectoryUser.id.in_(user_ids)))
        return {r.id: DirectoryEntry(r.id, r.fullname, r.avatar, r.role_id) for r in rows}


class DirectoryRefresher:
    """Keeps the directory current from authenticated callers without a write per call.

    A caller's row is looked at when what their token says differs from what this process last
    saw stored, or when that was longer ago than ``max_age_seconds`` (another process or the user
    sync may have changed it), and written only when it differs: after a restart, a known user's
    first call reads one row instead of writing it.
    """

    def __init__(self, max_entries: int = 50_000, max_age_seconds: float = 600.0) -> None:
        self._seen: OrderedDict[str, tuple[DirectoryEntry, float]] = OrderedDict()
        self._writing: dict[str, asyncio.Future[None]] = {}
        self._max_entries = max_entries
        self._max_age = max_age_seconds

    @staticmethod
    def entry_for(principal: Principal) -> DirectoryEntry:
        return DirectoryEntry(principal.user_id, principal.fullname, principal.avatar, principal.role_id)

    def needs_refresh(self, principal: Principal) -> bool:
        if principal.is_service:
            return False
        seen = self._seen.get(principal.user_id)
        if seen is None:
            return True
        entry, at = seen
        return entry != self.entry_for(principal) or time.monotonic() - at > self._max_age

    async def refresh(self, uow: UnitOfWork, principal: Principal) -> None:
        if not self.needs_refresh(principal):
            return
        entry = self.entry_for(principal)
        directory = DirectoryRepository(uow.session)
        if await directory.holds(entry):
            self.remember(entry)
            return
        await directory.upsert(entry, keep_known_values=True)

        async def _remember() -> None:
            self.remember(entry)

        uow.after_commit(_remember)

    async def refresh_once(
        self, unit_of_work: Callable[[], AbstractAsyncContextManager[UnitOfWork]], principal: Principal
    ) -> None:
        """``refresh`` in a unit of work of its own, once per user at a time: callers arriving
        while the same user's row is being written wait for that write instead of writing the
        same rows again (concurrent writes of one row queue on its lock, each holding a database
        connection others need: twenty sockets of one user connecting at once)."""
        if not self.needs_refresh(principal):
            return
        writing = self._writing.get(principal.user_id)
        if writing is not None:
            await asyncio.shield(writing)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._writing[principal.user_id] = done
        try:
            async with unit_of_work() as uow:
                await self.refresh(uow, principal)
        except Exception as exc:
            done.set_exception(exc)
            done.exception()  # marked as read: there may be no waiter
            raise
        finally:
            if not done.done():
                done.set_result(None)  # written, or the writer was cancelled: waiters go on
            self._writing.pop(principal.user_id, None)

    def remember(self, entry: DirectoryEntry) -> None:
        self._seen[entry.id] = (entry, time.monotonic())
        self._seen.move_to_end(entry.id)
        while len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)

    def forget(self, user_id: str) -> None:
        self._seen.pop(user_id, None)
