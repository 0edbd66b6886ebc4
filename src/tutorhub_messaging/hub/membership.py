"""Being in a room: ``hub:join``, ``hub:leave``, disconnects, and removal by a block.

Presence is per user: ``hub:presence joined`` and ``hub:online`` when a user's first socket
enters a room, ``hub:presence left`` when their last socket leaves it (and ``hub:offline`` when
that happens because the socket disconnected). Both go to the room's other sockets only.
"""

from __future__ import annotations

from typing import Any

from tutorhub_messaging.errors import NotJoined, RoomNotEligible
from tutorhub_messaging.hub.history import RECENT_SECONDS
from tutorhub_messaging.hub.protocol import (
    BLOCKED,
    ERROR,
    HISTORY,
    JOINED,
    OFFLINE,
    ONLINE,
    PRESENCE,
    parse_join,
    parse_leave,
    render_error,
)
from tutorhub_messaging.hub.rooms import load_conversation
from tutorhub_messaging.hub.runtime import Connection, HubRuntime
from tutorhub_messaging.hub.state import Departure, Member, SocketRef
from tutorhub_messaging.messages.service import MESSAGE_ARRIVED
from tutorhub_messaging.moderation.service import in_force
from tutorhub_messaging.ops.metrics import MESSAGES_OUT, ROOMS_JOINED

OK: dict[str, Any] = {"success": True}
# What a socket in a room that was closed is told (with ROOM_NOT_ELIGIBLE).
ROOM_CLOSED = "This conversation was closed"


async def join(hub: HubRuntime, connection: Connection, data: Any) -> dict[str, Any]:
    """The room, its moderation and the history page, read in one unit of work with the joins
    that arrive meanwhile (``hub.joining``).

    Two things may land while the join is in flight, and neither is missed:
    - a message stored after the history was read: its broadcast is kept for the socket until it
      is in the room (``hub.arrivals``), then delivered once, unless the history held it; and the
      broadcast of one the history holds, if it comes later, skips the socket;
    - a block or a closing: it counts a removal in the hub state before it looks for the room's
      sockets. If the count moved between the checks and the socket being in the room, the join
      reads moderation and the room once more (``_settle_join``); if it moves later, the removal
      finds the socket in the room itself.
    """
    request = parse_join(data)
    principal = connection.principal
    with hub.arrivals.watch(connection.namespace, request.room_id, connection.sid) as arrivals:
        # Checked and read with the joins that arrive meanwhile (``hub.joining``); what the room
        # broadcasts while this one waits its turn is kept like anything else the join would miss.
        read = await hub.joins.read(principal, request)
        access, history, removals = read.access, read.history, read.removals
        room_id = access.room_id
        if connection.closing:
            return OK  # the transport went away meanwhile; nothing to join for
        member = Member(principal.user_id, principal.fullname, principal.avatar, access.hub_role)
        entry = await hub.state.join(connection.sid, room_id, member)
        if not entry.already_joined:
            ROOMS_JOINED.inc()
        await hub.to_socket(
            connection,
            JOINED,
            {
                "roomId": room_id,
                "hubRole": access.hub_role,
                "userInfo": {"fullname": principal.fullname, "avatar": principal.avatar},
                # Everyone in the room now, the joiner included.
                "members": [{**m.as_user(), "online": True} for m in entry.members],
            },
        )
        await hub.to_socket(connection, HISTORY, {"roomId": room_id, "messages": history.records})
        if entry.already_joined:
            return OK  # already receiving the room's events: no presence, nothing missed
        if connection.closing:
            # Gone while being told about the room: undo quietly, the room never saw it arrive.
            if await hub.state.leave(connection.sid, room_id) is not None:
                ROOMS_JOINED.dec()
            return OK
        # Entered only now, so no live message can reach the client before hub:joined/hub:history;
        # and a broadcast still on its way of a message the history holds will skip it.
        hub.arrivals.hold(connection.namespace, room_id, connection.sid, history.recent, RECENT_SECONDS)
        await hub.enter_room(connection, room_id)
    if entry.first_of_user:
        presence: dict[str, Any] = {"event": "joined", "roomId": room_id, "user": member.as_user()}
        if request.meta is not None:
            presence["meta"] = request.meta
        online = {"roomId": room_id, "userId": member.user_id}
        await hub.to_room_all(room_id, [(PRESENCE, presence), (ONLINE, online)], skip_sid=connection.sid)
    if await hub.state.removals() != removals and not await _settle_join(hub, connection, room_id):
        return OK
    if not history.catch_up:
        return OK
    for arrival in arrivals.missed[: hub.settings.history_on_join]:
        if not history.holds(arrival):
            MESSAGES_OUT.inc()
            await hub.to_socket(connection, MESSAGE_ARRIVED, arrival)
    return OK


async def _settle_join(hub: HubRuntime, connection: Connection, room_id: str) -> bool:
    """Second look, now that the socket is in the room, when a block or a closing began while the
    join was in flight: one that landed still removes it. False when it did."""
    async with hub.context.db.unit_of_work() as uow:
        block = (await in_force(uow.session, room_id, connection.principal.user_id)).blocked
        room = await load_conversation(uow.session, room_id)
        eligible = room is not None and hub.engine.is_eligible(room)
    if block is None and eligible:
        return True
    departure = await hub.state.leave(connection.sid, room_id)
    await hub.leave_room(connection.ref, room_id)
    if block is not None:
        await hub.to_socket(connection, BLOCKED, {"roomId": room_id, "reason": block.reason})
    else:
        closed = RoomNotEligible(ROOM_CLOSED)
        await hub.to_socket(connection, ERROR, render_error(closed, room_id))
    if departure is not None:
        await announce_departure(hub, departure, connection.sid, offline=False)
    return False


async def leave(hub: HubRuntime, connection: Connection, data: Any) -> dict[str, Any]:
    room_id = parse_leave(data)
    departure = await hub.state.leave(connection.sid, room_id)
    if departure is None:
        raise NotJoined("You have not joined this room")
    await hub.leave_room(connection.ref, room_id)
    await announce_departure(hub, departure, connection.sid, offline=False)
    return OK


async def announce_departure(hub: HubRuntime, departure: Departure, sid: str, *, offline: bool) -> None:
    ROOMS_JOINED.dec()
    if not departure.last_of_user:
        return
    await hub.to_room_all(departure.room_id, departure_events(departure, offline=offline), skip_sid=sid)


def departure_events(departure: Departure, *, offline: bool) -> list[tuple[str, dict[str, Any]]]:
    """What a room is told when a user's last socket leaves it: ``hub:presence left``, then
    ``hub:offline`` when the socket went away rather than left the room."""
    room_id = departure.room_id
    events: list[tuple[str, dict[str, Any]]] = [
        (PRESENCE, {"event": "left", "roomId": room_id, "user": departure.member.as_user()})
    ]
    if offline:
        events.append((OFFLINE, {"roomId": room_id, "userId": departure.member.user_id}))
    return events


async def disconnect(hub: HubRuntime, connection: Connection) -> None:
    """Runs behind the socket's in-flight events (same lock), so it undoes whatever they did."""
    hub.budgets.forget_socket(connection.sid)
    async with connection.lock:
        for departure in await hub.state.remove_socket(connection.sid):
            await announce_departure(hub, departure, connection.sid, offline=True)


async def remove_user(hub: HubRuntime, room_id: str, user_id: str) -> list[SocketRef]:
    """Take all of a user's sockets out of a room (a block); the room sees them leave."""
    eviction = await hub.state.evict(room_id, user_id)
    for socket in eviction.sockets:
        ROOMS_JOINED.dec()
        await hub.leave_room(socket, room_id)
    if eviction.member is not None:
        await hub.to_room(
            room_id, PRESENCE, {"event": "left", "roomId": room_id, "user": eviction.member.as_user()}
        )
    return eviction.sockets
