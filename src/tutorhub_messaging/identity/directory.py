"""The local user directory: names and avatars of users, known even while they are offline."""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, func, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession

from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.db.models import Conversation, DirectoryUser
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.db.upsert import excluded, insert_on
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.microbatch import MicroBatcher

# Opens a unit of work (``Database.unit_of_work``).
UnitsOfWork = Callable[[], AbstractAsyncContextManager[UnitOfWork]]


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


# Where conversations cache their participants' names.
_NAMES = (
    (Conversation.participant_a, Conversation.participant_a_name),
    (Conversation.participant_b, Conversation.participant_b_name),
)


def _holds(entry: DirectoryEntry, row: Any) -> bool:
    """Whether a stored row, with the names its user's conversations cache (``lowest``,
    ``highest``, ``unnamed``; None without conversations), already says what ``entry`` says."""
    name = entry.fullname
    if name and row.unnamed is not None and (row.unnamed or row.lowest != name or row.highest != name):
        return False  # a conversation caches another name, or none
    pairs = ((entry.fullname, row.fullname), (entry.avatar, row.avatar), (entry.role_id, row.role_id))
    return all(new is None or new == stored for new, stored in pairs)


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

    async def held_among(self, entries: Sequence[DirectoryEntry]) -> set[str]:
        """The ids of ``entries`` that ``upsert(entry, keep_known_values=True)`` would change in
        nothing but the row's ``updated_at``: one read for the lot (their rows, and the names
        their conversations cache), so the connects of known users arriving together after a
        restart share it and write nothing."""
        if not entries:
            return set()
        ids = [entry.id for entry in entries]
        cached = union_all(
            *(
                select(participant.label("user_id"), name.label("name")).where(participant.in_(ids))
                for participant, name in _NAMES
            )
        ).subquery()
        names = (
            select(
                cached.c.user_id,
                func.min(cached.c.name).label("lowest"),
                func.max(cached.c.name).label("highest"),
                (func.count() - func.count(cached.c.name)).label("unnamed"),
            )
            .group_by(cached.c.user_id)
            .subquery()
        )
        rows = await self.session.execute(
            select(
                DirectoryUser.id,
                DirectoryUser.fullname,
                DirectoryUser.avatar,
                DirectoryUser.role_id,
                names.c.lowest,
                names.c.highest,
                names.c.unnamed,
            )
            .outerjoin(names, names.c.user_id == DirectoryUser.id)
            .where(DirectoryUser.id.in_(ids))
        )
        stored = {row.id: row for row in rows}
        return {entry.id for entry in entries if entry.id in stored and _holds(entry, stored[entry.id])}

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


@dataclass(frozen=True, slots=True)
class _Queued:
    entry: DirectoryEntry
    unit_of_work: UnitsOfWork


class DirectoryRefresher:
    """Keeps the directory current from authenticated callers without a write per call.

    A caller's row is looked at when what their token says differs from what this process last
    saw stored, or when that was longer ago than ``max_age_seconds`` (another process or the user
    sync may have changed it), and written only when it differs: after a restart, a known user's
    first call reads their row instead of writing it.

    The rows asked for while a batch is being looked at are looked at together in the next one,
    in one unit of work (at most ``MAX_BATCH`` users, ``microbatch.MicroBatcher``): after a
    restart every client reconnects at once, and one read per user each in a transaction of its
    own was most of a connect's cost. A lone caller is looked at at once (a batch of one). A row
    that cannot be written fails only its own user's callers: the batch is then looked at again
    user by user.
    """

    MAX_BATCH = 200

    def __init__(self, max_entries: int = 50_000, max_age_seconds: float = 600.0) -> None:
        self._seen: OrderedDict[str, tuple[DirectoryEntry, float]] = OrderedDict()
        # Per user, what their callers wait for while their row is queued or being looked at.
        self._writing: dict[str, asyncio.Future[None]] = {}
        self._batches = MicroBatcher[_Queued, None](
            "directory", self._write_changed, max_batch=self.MAX_BATCH
        )
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

    async def refresh_once(self, unit_of_work: UnitsOfWork, principal: Principal) -> None:
        """Bring the caller's row up to date with their token, in a batch with the other callers
        of this moment. Callers of a user whose row is already queued or being written wait for
        that instead of writing the same row again (twenty sockets of one user connecting at once
        would each hold a database connection, queued on that row's lock)."""
        if not self.needs_refresh(principal):
            return
        user_id = principal.user_id
        waiting = self._writing.get(user_id)
        if waiting is None:
            waiting = self._batches.enqueue(_Queued(self.entry_for(principal), unit_of_work))
            self._writing[user_id] = waiting
            waiting.add_done_callback(functools.partial(self._written, user_id))
        await asyncio.shield(waiting)

    def _written(self, user_id: str, done: asyncio.Future[None]) -> None:
        if self._writing.get(user_id) is done:
            del self._writing[user_id]

    async def _write_changed(self, batch: list[_Queued]) -> list[None]:
        entries = [queued.entry for queued in batch]
        async with batch[0].unit_of_work() as uow:
            directory = DirectoryRepository(uow.session)
            held = await directory.held_among(entries)
            # In id order: two processes writing overlapping batches take the rows' locks in the
            # same order instead of deadlocking.
            changed = sorted((entry for entry in entries if entry.id not in held), key=lambda entry: entry.id)
            for entry in changed:
                await directory.upsert(entry, keep_known_values=True)
        for entry in entries:
            self.remember(entry)
        return [None] * len(batch)

    def remember(self, entry: DirectoryEntry) -> None:
        self._seen[entry.id] = (entry, time.monotonic())
        self._seen.move_to_end(entry.id)
        while len(self._seen) > self._max_entries:
            self._seen.popitem(last=False)

    def forget(self, user_id: str) -> None:
        self._seen.pop(user_id, None)
