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

Batches run one at a time, at most ``Settings.joins_per_batch`` joins each, on one database
connection: in a storm the joins wait their turn here, in arrival order, not in the connection
pool's queue ahead of the sends of users already in their rooms.
"""

from __future__ import annotations

from dataclasses import dataclass

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.errors import AppError, Blocked, Forbidden
from tutorhub_messaging.hub.engine import HubEngine, RoomAccess
from tutorhub_messaging.hub.history import History, read_histories
from tutorhub_messaging.hub.protocol import JoinRequest
from tutorhub_messaging.hub.rooms import ROOM_BATCH_LOADERS, check_access, check_room_id
from tutorhub_messaging.hub.state import HubState
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.messages.pages import PageWanted
from tutorhub_messaging.microbatch import MicroBatcher
from tutorhub_messaging.moderation.service import in_force_for_pairs

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


@dataclass(frozen=True, slots=True)
class _Queued:
    principal: Principal
    request: JoinRequest


class JoinBatcher:
    def __init__(self, context: AppContext, state: HubState, engine: HubEngine) -> None:
        self.context = context
        self.state = state
        self.engine = engine
        self._batches = MicroBatcher[_Queued, JoinRead](
            "join", self._read_together, max_batch=min(context.settings.joins_per_batch, MAX_BATCH)
        )
        # Held while a batch reads the database (one batch at a time).
        self.turn = self._batches.turn

    @property
    def waiting(self) -> int:
        """Joins queued for the next batch."""
        return self._batches.waiting

    async def read(self, principal: Principal, request: JoinRequest) -> JoinRead:
        """Check and read one join (with the others queued meanwhile); raises its error."""
        return await self._batches.submit(_Queued(principal, request))

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
