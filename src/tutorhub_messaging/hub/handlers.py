"""Client events of the hub: one dispatcher, ``hub:send`` and ``hub:event``.

Each event runs under its socket's lock, in one unit of work, and answers the client's ack
callback (when it passed one) with ``{success: true, ...}`` or ``{success: false, error, code}``;
a failure is also sent as ``hub:error``. Nothing is broadcast before its unit of work commits.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tutorhub_messaging.db.types import iso, utcnow
from tutorhub_messaging.errors import Forbidden, InvalidInput, NotJoined, RateLimited, SendNotAllowed
from tutorhub_messaging.hub import membership, moderating
from tutorhub_messaging.hub.protocol import (
    BLOCK,
    ERROR,
    EVENT,
    JOIN,
    LEAVE,
    SEND,
    SILENCE,
    UNBLOCK,
    UNSILENCE,
    check_plain_json,
    echoed_room_id,
    parse_event,
    parse_read_time,
    parse_send,
    render_error,
)
from tutorhub_messaging.hub.rooms import access_room
from tutorhub_messaging.hub.runtime import Connection, HubRuntime
from tutorhub_messaging.hub.sending import SendRequest
from tutorhub_messaging.logs import request_id_var, user_id_var
from tutorhub_messaging.messages.reading import mark_read
from tutorhub_messaging.moderation.service import check_may_speak
from tutorhub_messaging.ops.metrics import FLOODING_SOCKETS_DISCONNECTED, SEND_TO_BROADCAST

log = logging.getLogger(__name__)

Handler = Callable[[HubRuntime, Connection, Any], Awaitable[dict[str, Any]]]
MAX_EVENT_NAME_ECHO = 64
# Events one socket may have queued or running at once; more are refused with RATE_LIMITED.
MAX_EVENTS_IN_FLIGHT = 100


async def send(hub: HubRuntime, connection: Connection, data: Any) -> dict[str, Any]:
    received = time.perf_counter()
    room_id, new = parse_send(data)
    if not await hub.state.is_joined(connection.sid, room_id):
        raise NotJoined("Join the room before sending to it")
    stored = await hub.sends.send(SendRequest(connection.principal, room_id, new))
    # Its unit of work has committed and run its broadcast by now.
    if stored.created:
        SEND_TO_BROADCAST.observe(time.perf_counter() - received)
    return {"success": True, "message": stored.record}


async def relay_event(hub: HubRuntime, connection: Connection, data: Any) -> dict[str, Any]:
    """``hub:event``: relayed as ``hub:<event>`` to the room's other sockets.

    A read event (``messageRead``) needs only read permission and moves the sender's read state;
    any other event needs send permission and a sender who is not silenced.
    """
    request = parse_event(data, hub.context.hub, hub.settings.max_message_bytes)
    if not await hub.state.is_joined(connection.sid, request.room_id):
        raise NotJoined("Join the room before sending events to it")
    principal = connection.principal
    server_keys: dict[str, Any] = {"roomId": request.room_id, "userId": principal.user_id}
    async with hub.context.db.unit_of_work() as uow:
        access = await access_room(uow.session, hub.engine, principal, request.room_id)
        if request.name in hub.context.hub.read_events:
            if not access.permissions.read:
                raise Forbidden("Your role in this room cannot read it")
            read_at = parse_read_time(request.data.get("lastReadTimestamp"), utcnow())
            # Read state never moves backwards: tell the room where it actually stands.
            server_keys["lastReadTimestamp"] = iso(
                await mark_read(uow, access.room_id, principal.user_id, read_at)
            )
        else:
            if not access.permissions.send:
                raise SendNotAllowed("Your role in this room cannot send events")
            await check_may_speak(uow.session, access.room_id, principal.user_id)
    await hub.to_room(
        request.room_id, f"hub:{request.name}", {**request.data, **server_keys}, skip_sid=connection.sid
    )
    return {"success": True}


HANDLERS: dict[str, Handler] = {
    JOIN: membership.join,
    LEAVE: membership.leave,
    SEND: send,
    EVENT: relay_event,
    BLOCK: moderating.block,
    UNBLOCK: moderating.unblock,
    SILENCE: moderating.silence,
    UNSILENCE: moderating.unsilence,
}


async def dispatch(hub: HubRuntime, event: str, sid: str, args: tuple[Any, ...]) -> dict[str, Any] | None:
    """Run one client event; the return value becomes the client's ack."""
    connection = hub.connections.get(sid)
    if connection is None or connection.flooding:
        return None
    data = args[0] if args else None
    if connection.in_flight >= MAX_EVENTS_IN_FLIGHT:
        # A client that does not wait for anything must not queue unbounded work here. Not counted
        # toward a flooding disconnect: these events passed their budgets, the socket is only
        # ahead of what it was answered.
        refusal = RateLimited("Too many events at once: slow down")
        return await _fail(hub, connection, refusal, event, data, count=False)
    try:
        await hub.budgets.check_event(connection.principal.user_id, sid, event, data)
    except RateLimited as exc:
        return await _fail(hub, connection, exc, event, data)
    connection.in_flight += 1
    try:
        # Taken before anything awaits: the lock queues this socket's events in arrival order.
        async with connection.lock, hub.user_slots.taken(connection.principal.user_id):
            # Same form as a uuid4 hex, without building a UUID object for every event.
            request_id_var.set(os.urandom(16).hex())
            user_id_var.set(connection.principal.user_id)
            try:
                handler = HANDLERS.get(event)
                if handler is None:
                    raise InvalidInput(
                        f"Unknown event: {str(event)[:MAX_EVENT_NAME_ECHO]}", key="errMsg_unknownEvent"
                    )
                check_plain_json(data)
                return await handler(hub, connection, data)
            except Exception as exc:
                return await _fail(hub, connection, exc, event, data)
    finally:
        connection.in_flight -= 1


async def _fail(
    hub: HubRuntime, connection: Connection, exc: Exception, event: Any, data: Any, *, count: bool = True
) -> dict[str, Any]:
    """``hub:error`` to the socket, and the ack for the client's callback.

    A socket refused (``RATE_LIMITED``) more often than its bound per window is told so and
    disconnected: the official client does not reconnect on its own after a server disconnect,
    and one that does meets the per-user connect budget. Refused standard events, and messages
    refused by the message rate (a client sending what it queued while offline), count against a
    bound of their own, far higher (see ``HubBudgeter.over_refusals``)."""
    flooding = None
    if count and isinstance(exc, RateLimited):
        lenient = event == SEND or hub.budgets.is_standard_event(event, data)
        flooding = hub.budgets.over_refusals(connection.sid, lenient=lenient)
    if flooding is not None:
        exc = RateLimited(flooding)
    error = render_error(exc, echoed_room_id(data))
    await hub.to_socket(connection, ERROR, error)
    if flooding is not None and not connection.flooding:
        connection.flooding = True
        FLOODING_SOCKETS_DISCONNECTED.inc()
        log.warning("disconnecting a socket that kept sending after being refused")
        await hub.sio.disconnect(connection.sid, namespace=connection.namespace, ignore_queue=True)
    return {"success": False, "error": error["error"], "code": error["code"]}
