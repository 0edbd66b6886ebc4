"""Who is where in the hub: sockets per user, users per room, rooms per user.

All hub state sits behind ``HubState`` so that a shared implementation (Redis, for several
processes) can replace the in-memory one without touching the handlers. Every method is a single
step a shared store can do atomically; the guardrails (``ROOM_FULL``, ``ROOM_LIMIT``) are checked
inside ``join`` for that reason, not by callers reading counts first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from tutorhub_messaging.errors import RoomFull, RoomLimit

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SocketRef:
    """A socket anywhere in the hub: its id and the namespace it connected to."""

    sid: str
    namespace: str


@dataclass(frozen=True, slots=True)
class Member:
    """A user present in a room, as presence events and ``hub:joined`` show them."""

    user_id: str
    fullname: str | None
    avatar: str | None
    hub_role: str

    def as_user(self) -> dict[str, Any]:
        return {
            "id": self.user_id,
            "fullname": self.fullname,
            "avatar": self.avatar,
            "hubRole": self.hub_role,
        }


@dataclass(frozen=True, slots=True)
class Guardrails:
    max_users_per_room: int
    max_rooms_per_user: int


@dataclass(frozen=True, slots=True)
class Entry:
    """What a join changed."""

    already_joined: bool  # this socket was in the room before: nothing changed
    first_of_user: bool  # no other socket of this user is in the room: presence "joined"
    # Everyone in the room right after the join, the joiner included, in the order they came
    # (``members``), read with the join itself: a join is one round trip to a shared state.
    members: tuple[Member, ...] = ()


@dataclass(frozen=True, slots=True)
class Departure:
    """A socket leaving a room."""

    room_id: str
    member: Member
    last_of_user: bool  # no socket of this user is left in the room: presence "left"


@dataclass(frozen=True, slots=True)
class Eviction:
    """A user removed from a room with all their sockets (a block)."""

    sockets: list[SocketRef]
    member: Member | None  # None when the user was not in the room


class HubState(Protocol):
    async def add_socket(self, socket: SocketRef, user_id: str) -> None:
        """Register a connected socket of a user."""

    async def remove_socket(self, sid: str) -> list[Departure]:
        """Forget a socket and take it out of every room it was in."""

    async def join(self, sid: str, room_id: str, member: Member) -> Entry:
        """Put a socket in a room, and list who is in it then; raises ``RoomFull`` / ``RoomLimit``
        when a guardrail forbids it."""

    async def leave(self, sid: str, room_id: str) -> Departure | None:
        """Take a socket out of a room; None when it was not in it."""

    async def evict(self, room_id: str, user_id: str) -> Eviction:
        """Take every socket of a user out of a room (a removal, counted as ``begin_removal``)."""

    async def begin_removal(self) -> None:
        """Count a removal about to start: a closing, before it reads the room's members."""

    async def removals(self) -> int:
        """Removals counted so far, hub-wide. A join that reads the same number before its checks
        and once its socket is in the room missed none; otherwise it checks again."""

    async def is_joined(self, sid: str, room_id: str) -> bool: ...

    async def members(self, room_id: str) -> list[Member]:
        """The distinct users with at least one socket in the room, in the order they came."""

    async def sockets_of(self, user_id: str) -> list[SocketRef]:
        """Every connected socket of a user, in any namespace."""


@dataclass
class _Socket:
    ref: SocketRef
    user_id: str
    rooms: set[str] = field(default_factory=set)


@dataclass
class _Presence:
    member: Member
    sids: set[str] = field(default_factory=set)


class InMemoryHubState:
    """``HubState`` for a single process: plain dictionaries, each method runs without awaiting."""

    def __init__(self, guardrails: Guardrails) -> None:
        self.guardrails = guardrails
        self._sockets: dict[str, _Socket] = {}
        self._user_sockets: dict[str, set[str]] = {}
        # room -> user -> presence; dicts keep insertion order, so members come in join order.
        self._rooms: dict[str, dict[str, _Presence]] = {}
        self._user_rooms: dict[str, set[str]] = {}
        self._removals = 0

    async def add_socket(self, socket: SocketRef, user_id: str) -> None:
        self._sockets[socket.sid] = _Socket(socket, user_id)
        self._user_sockets.setdefault(user_id, set()).add(socket.sid)

    async def remove_socket(self, sid: str) -> list[Departure]:
        socket = self._sockets.get(sid)
        if socket is None:
            return []
        departures = [self._take_out(socket, room_id) for room_id in list(socket.rooms)]
        del self._sockets[sid]
        sids = self._user_sockets.get(socket.user_id)
        if sids is not None:
            sids.discard(sid)
            if not sids:
                del self._user_sockets[socket.user_id]
        return departures

    async def join(self, sid: str, room_id: str, member: Member) -> Entry:
        socket = self._sockets.get(sid)
        if socket is None:
            raise LookupError(f"unknown socket {sid}")
        room = self._rooms.get(room_id, {})
        presence = room.get(member.user_id)
        if presence is not None:
            presence.member = member  # the newest token's name and avatar win
            if room_id in socket.rooms:
                return Entry(already_joined=True, first_of_user=False, members=self._members(room_id))
        else:
            # Only a user new to the room can fill it, or take another of their room slots.
            if len(room) >= self.guardrails.max_users_per_room:
                raise RoomFull("Room is full")
            user_rooms = self._user_rooms.get(member.user_id, set())
            if len(user_rooms) >= self.guardrails.max_rooms_per_user:
                raise RoomLimit(
                    f"You are already in {self.guardrails.max_rooms_per_user} rooms: leave one first"
                )
            presence = _Presence(member)
            self._rooms.setdefault(room_id, {})[member.user_id] = presence
            self._user_rooms.setdefault(member.user_id, set()).add(room_id)
        first_of_user = not presence.sids
        presence.sids.add(sid)
        socket.rooms.add(room_id)
        return Entry(already_joined=False, first_of_user=first_of_user, members=self._members(room_id))

    async def leave(self, sid: str, room_id: str) -> Departure | None:
        socket = self._sockets.get(sid)
        if socket is None or room_id not in socket.rooms:
            return None
        return self._take_out(socket, room_id)

    async def evict(self, room_id: str, user_id: str) -> Eviction:
        self._removals += 1
        presence = self._rooms.get(room_id, {}).get(user_id)
        if presence is None:
            return Eviction([], None)
        sockets = [self._sockets[sid] for sid in list(presence.sids)]
        for socket in sockets:
            self._take_out(socket, room_id)
        return Eviction([s.ref for s in sockets], presence.member)

    async def begin_removal(self) -> None:
        self._removals += 1

    async def removals(self) -> int:
        return self._removals

    async def is_joined(self, sid: str, room_id: str) -> bool:
        socket = self._sockets.get(sid)
        return socket is not None and room_id in socket.rooms

    async def members(self, room_id: str) -> list[Member]:
        return list(self._members(room_id))

    def _members(self, room_id: str) -> tuple[Member, ...]:
        return tuple(presence.member for presence in self._rooms.get(room_id, {}).values())

    async def sockets_of(self, user_id: str) -> list[SocketRef]:
        return [self._sockets[sid].ref for sid in self._user_sockets.get(user_id, ())]

    def _take_out(self, socket: _Socket, room_id: str) -> Departure:
        socket.rooms.discard(room_id)
        room = self._rooms[room_id]
        presence = room[socket.user_id]
        presence.sids.discard(socket.ref.sid)
        last = not presence.sids
        if last:
            del room[socket.user_id]
            if not room:
                del self._rooms[room_id]
            user_rooms = self._user_rooms[socket.user_id]
            user_rooms.discard(room_id)
            if not user_rooms:
                del self._user_rooms[socket.user_id]
        return Departure(room_id, presence.member, last_of_user=last)


class StatePresence:
    """``RoomPresence`` read off the hub state: every process's sockets when the state is shared.

    If the state cannot be read (Redis down), nobody counts as present: an outgoing event then
    says ``online: false``, which makes a notifier notify rather than stay silent.
    """

    def __init__(self, state: HubState) -> None:
        self.state = state

    async def users_in_rooms(self, room_ids: Collection[str]) -> dict[str, set[str]]:
        rooms = list(room_ids)
        try:
            found = await asyncio.gather(*(self.state.members(room) for room in rooms))
        except Exception:
            log.warning("room presence unavailable: recipients count as offline", exc_info=True)
            return {}
        return {room: {m.user_id for m in members} for room, members in zip(rooms, found, strict=True)}
