"""What the hub's event handlers share: the Socket.IO server, the app context, the hub state,
this process's connections, and the ways to reach a socket, a room or a user.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import socketio

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.hub.arrivals import WatchingManager
from tutorhub_messaging.hub.batching import SendBatcher
from tutorhub_messaging.hub.budgets import HubBudgeter
from tutorhub_messaging.hub.engine import HubEngine
from tutorhub_messaging.hub.joining import JoinBatcher
from tutorhub_messaging.hub.state import HubState, SocketRef
from tutorhub_messaging.hub.transport import NamespaceNotifier
from tutorhub_messaging.identity.principal import Principal

if TYPE_CHECKING:
    from tutorhub_messaging.hub.expiry import CredentialWatch


@dataclass(eq=False, slots=True)  # one per connected socket: no instance dict
class Connection:
    """A socket connected to this process.

    ``lock`` serialises the socket's events: python-socketio runs each event as its own task, and
    a client's messages must be stored in the order it sent them (and a send right after a join
    must see the join). ``closing`` is set as soon as the transport goes away.
    """

    sid: str
    namespace: str
    principal: Principal
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closing: bool = False
    # Events received and not yet finished (queued behind the lock or running).
    in_flight: int = 0
    # Set once the socket is being disconnected for flooding: its further events are dropped.
    flooding: bool = False

    @property
    def ref(self) -> SocketRef:
        return SocketRef(self.sid, self.namespace)


class UserSlots:
    """At most ``per_user`` events of one user run at once in this process; the others wait their
    turn. Twenty sockets of one user joining at once would otherwise hold twenty database
    connections together (and make the pool open new ones) while everyone else's events wait."""

    def __init__(self, per_user: int) -> None:
        self.per_user = per_user
        self._slots: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @asynccontextmanager
    async def taken(self, user_id: str) -> AsyncIterator[None]:
        semaphore, users = self._slots.get(user_id) or (asyncio.Semaphore(self.per_user), 0)
        self._slots[user_id] = (semaphore, users + 1)
        try:
            async with semaphore:
                yield
        finally:
            semaphore, users = self._slots[user_id]
            if users > 1:
                self._slots[user_id] = (semaphore, users - 1)
            else:
                del self._slots[user_id]


class HubRuntime:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        context: AppContext,
        state: HubState,
        notifier: NamespaceNotifier,
    ) -> None:
        self.sio = sio
        self.context = context
        self.state = state
        self.notifier = notifier
        if not isinstance(sio.manager, WatchingManager):
            raise TypeError("the hub needs a WatchingManager: joins keep what they would miss")
        # Broadcasts a joining socket would miss before it is in the room (see ``hub.arrivals``).
        self.arrivals: WatchingManager = sio.manager
        self.engine = HubEngine(context.hub)
        self.connections: dict[str, Connection] = {}
        # hub:send's group commit: sends arriving during a commit share the next one.
        self.sends = SendBatcher(context)
        # Events of one user running at once (the others wait: none is refused for it).
        self.user_slots = UserSlots(context.settings.hub_events_running_per_user)
        # Joins read the database in batches, one batch at a time: when every client rejoins after
        # a restart, the joins wait there in arrival order, not in the connection pool's queue
        # (where they would time out and make the sends of users already in wait behind them).
        self.joins = JoinBatcher(context, state, self.engine)
        # Joins, events and sockets per user and per socket (the hub definition's budgets).
        self.budgets = HubBudgeter(context.hub, context.rate_limiter, context.settings.max_message_bytes)
        # Open sockets end with their credentials (``hub.expiry``); set once the hub is built.
        self.credentials: CredentialWatch | None = None

    @property
    def settings(self) -> Any:
        return self.context.settings

    async def to_socket(self, socket: SocketRef | Connection, event: str, payload: dict[str, Any]) -> None:
        # A socket of this process is written to directly. With Redis, the fan-out would publish
        # every emit and have every process read it back, refusals of a flood included.
        local = socket.sid in self.connections
        await self.sio.emit(event, payload, to=socket.sid, namespace=socket.namespace, ignore_queue=local)

    async def to_room(
        self, room_id: str, event: str, payload: dict[str, Any], *, skip_sid: str | None = None
    ) -> None:
        """Every socket in the room, in every namespace the hub is served under."""
        await self.notifier.emit_to_room(room_id, event, payload, skip_sid=skip_sid)

    async def to_room_all(
        self, room_id: str, events: list[tuple[str, dict[str, Any]]], *, skip_sid: str | None = None
    ) -> None:
        """Several events, in order, to every socket in the room: one broadcast for them all."""
        await self.notifier.emit_events_to_room(room_id, events, skip_sid=skip_sid)

    async def to_user(self, user_id: str, event: str, payload: dict[str, Any]) -> None:
        """Every connected socket of a user, joined to the room or not."""
        for socket in await self.state.sockets_of(user_id):
            await self.to_socket(socket, event, payload)

    async def enter_room(self, connection: Connection, room_id: str) -> None:
        await self.sio.enter_room(connection.sid, room_id, namespace=connection.namespace)

    async def leave_room(self, socket: SocketRef, room_id: str) -> None:
        await self.sio.leave_room(socket.sid, room_id, namespace=socket.namespace)
