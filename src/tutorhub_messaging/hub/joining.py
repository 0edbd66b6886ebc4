"""Joins read the database together: the ``hub:join``s that arrive while a batch is being read are
checked and read in the next one, in one unit of work.

After a restart every client rejoins each of its rooms at once. Read one by one, each join paid
a transaction and three statements (room, moderation, history page), and the process spent most
of a reconnect storm in per-statement overhead. A batch reads its rooms, the moderation in force
for its (room, user) pairs and every history page with one statement each, whatever its size.

Nothing changes for a client: each join gets its own outcome, with the same checks in the same
order as a join read alone (room and access, read permission, block, then ``after``), so a refused
join in a batch gets exactly the error it would have got alone and never affects the others.
A lone join is read at once (a batch of one); under load, batches grow by themselves.

Batches run one at a time, at most ``MESSAGING_HUB_JOINS_RUNNING`` joins each, on one database
connection: in a storm the joins wait their turn here, in arrival order, not in the connection
pool's queue ahead of the sends of users already in their rooms.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.errors import AppError, Blocked, Forbidden, Unavailable
from tutorhub_messaging.hub.engine import HubEngine, RoomAccess
from tutorhub_messaging.hub.history import History, read_histories
from tutorhub_messaging.hub.protocol import JoinRequest
from tutorhub_messaging.hub.rooms import ROOM_BATCH_LOADERS, check_access, check_room_id
from tutorhub_messaging.hub.state import HubState
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.messages.pages import PageWanted
from tutorhub_messaging.moderation.service import in_force_for_pairs

log = logging.getLogger(__name__)

# Whatever HUB_JOINS_RUNNING says: a join with ``after`` is two arms of the pages' UNION ALL, and
# SQLite refuses a compound SELECT of more than 500.
MAX_BATCH = 200


@dataclass(frozen=True, slots=True)
class JoinRead:
    """What a join read: the caller's access, the history page, and the hub's removal count read
    before the checks (a block or closing counted after it makes the join look again)."""

    access: RoomAccess
    history: History
    removals: int


@dataclass(slots=True)
class _Queued:
    principal: Principal
    request: JoinRequest
    outcome: asyncio.Future[JoinRead]


class JoinBatcher:
    def __init__(self, context: AppContext, state: HubState, engine: HubEngine) -> None:
        self.context = context
        self.state = state
        self.engine = engine
        self.max_batch = min(context.settings.hub_joins_running, MAX_BATCH)
        self._queue: list[_Queued] = []
        self._drainer: asyncio.Task[None] | None = None
        # Held while a batch reads the database (one batch at a time).
        self.turn = asyncio.Lock()

    @property
    def waiting(self) -> int:
        """Joins queued for the next batch."""
        return len(self._queue)

    async def read(self, principal: Principal, request: JoinRequest) -> JoinRead:
        """Check and read one join (with the others queued meanwhile); raises its error."""
        outcome: asyncio.Future[JoinRead] = asyncio.get_running_loop().create_future()
        self._queue.append(_Queued(principal, request, outcome))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await outcome

    async def _drain(self) -> None:
        while self._queue:
            # One turn of the event loop first: joins already received join this batch.
            await asyncio.sleep(0)
            async with self.turn:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    await self._read(batch)
                except Exception as exc:
                    # _read settles every join itself; this only guards against a bug there.
                    log.exception("join batch failed")
                    _settle_all(batch, exc)

    async def _read(self, batch: list[_Queued]) -> None:
        try:
            outcomes = await self._read_together(batch)
        except Unavailable as exc:
            _settle_all(batch, exc)  # every join would meet the same outage
            return
        except Exception:
            if len(batch) == 1:
                raise
            log.warning("join batch of %d failed: reading its joins one by one", len(batch), exc_info=True)
            for queued in batch:
                try:
                    await self._read([queued])
                except Exception as exc:
                    _settle(queued, exc)
            return
        for queued, outcome in zip(batch, outcomes, strict=True):
            _settle(queued, outcome)

    async def _read_together(self, batch: list[_Queued]) -> list[JoinRead | Exception]:
        # Before any check: a removal counted from here on makes the join look again.
        removals = await self.state.removals()
        outcomes: list[JoinRead | Exception | None] = [None] * len(batch)
        room_ids: list[str | None] = []
        for index, queued in enumerate(batch):
            try:
                room_ids.append(check_room_id(queued.request.room_id))
            except AppError as exc:
                outcomes[index] = exc
                room_ids.append(None)
        history_limit = self.context.settings.history_on_join
        async with self.context.db.unit_of_work() as uow:
            load_rooms = ROOM_BATCH_LOADERS[self.engine.definition.room_object]
            rooms = await load_rooms(uow.session, {r for r in room_ids if r is not None})
            accesses: dict[int, RoomAccess] = {}
            for index, (queued, room_id) in enumerate(zip(batch, room_ids, strict=True)):
                if room_id is None:
                    continue
                try:
                    access = check_access(self.engine, queued.principal, room_id, rooms.get(room_id))
                    if not access.permissions.read:
                        raise Forbidden("Your role in this room cannot read it")
                except AppError as exc:
                    outcomes[index] = exc
                    continue
                accesses[index] = access
            pairs = {(access.room_id, batch[i].principal.user_id) for i, access in accesses.items()}
            moderation = await in_force_for_pairs(uow.session, pairs)
            for index, access in list(accesses.items()):
                state = moderation.get((access.room_id, batch[index].principal.user_id))
                if state is not None and state.blocked is not None:
                    outcomes[index] = Blocked("You are blocked in this room")
                    del accesses[index]
            wanted = [PageWanted(a.room_id, batch[i].request.after) for i, a in accesses.items()]
            histories = await read_histories(uow.session, wanted, history_limit)
        for (index, access), history in zip(accesses.items(), histories, strict=True):
            if isinstance(history, History):
                outcomes[index] = JoinRead(access, history, removals)
            else:
                outcomes[index] = history
        assert all(outcome is not None for outcome in outcomes)
        return [outcome for outcome in outcomes if outcome is not None]


def _settle(queued: _Queued, outcome: JoinRead | Exception) -> None:
    if queued.outcome.done():  # the joiner's task was cancelled meanwhile
        return
    if isinstance(outcome, JoinRead):
        queued.outcome.set_result(outcome)
    else:
        queued.outcome.set_exception(outcome)


def _settle_all(batch: list[_Queued], exc: Exception) -> None:
    for queued in batch:
        _settle(queued, exc)
