"""Open sockets follow their credentials: a socket ends when its token expires, and (in session
store mode) soon after its session is deleted, as REST would refuse the same token by then.

The transport is closed, not just the namespace: the official client then reconnects by itself,
asking its ``auth`` callback for a token again, and a stale token is refused with
``connect_error`` "Invalid token" whose ``data.code`` is ``TOKEN_EXPIRED``, so a client holding a
fixed token knows to fetch a fresh one. The room sees the user leave, and the reconnected client
fills its gap with ``hub:join {after}``.

Expiry is one timer for the whole process, set for the earliest ``exp`` (plus the leeway tokens
get everywhere) in a heap of the sockets' expiries: a timer per socket cost ~0.5 KB of each idle
connection. A socket that disconnects leaves its entry to lapse, or to go when the heap is rebuilt
from the sockets still open once it holds twice as many entries. Sessions are
re-checked every ``MESSAGING_SESSION_RECHECK_SECONDS`` for all of this process's sockets at once,
one pipelined ``EXISTS`` per distinct session; a session store that cannot be asked disconnects
nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import math
import time

from redis.exceptions import RedisError

from tutorhub_messaging.hub.runtime import Connection, HubRuntime
from tutorhub_messaging.hub.transport import close_transport
from tutorhub_messaging.identity.tokens import EXPIRY_LEEWAY_SECONDS
from tutorhub_messaging.ops.metrics import SOCKETS_CREDENTIALS_ENDED

log = logging.getLogger(__name__)


class CredentialWatch:
    def __init__(self, hub: HubRuntime) -> None:
        self.hub = hub
        self.interval = float(hub.settings.session_recheck_seconds)
        self._sweeper: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        # (when the socket's token ends, seconds since the epoch, leeway included; its sid)
        self._expiries: list[tuple[float, str]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = math.inf
        hub.context.on_shutdown.append(self.stop)

    def track(self, connection: Connection) -> None:
        """Called once the socket is connected."""
        expires_at = connection.principal.expires_at
        if expires_at is not None:
            if len(self._expiries) >= 2 * len(self.hub.connections) + 64:
                self._rebuild()
            heapq.heappush(self._expiries, (_ends_at(connection), connection.sid))
            self._schedule()
        if self.hub.context.authenticator.uses_session_store and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())

    @property
    def entries(self) -> int:
        """Expiries held: the open sockets' and those of sockets gone since the last rebuild."""
        return len(self._expiries)

    def _rebuild(self) -> None:
        """Only the sockets still open (their entries otherwise wait for their own expiry)."""
        self._expiries = [
            (_ends_at(c), c.sid) for c in self.hub.connections.values() if c.principal.expires_at is not None
        ]
        heapq.heapify(self._expiries)

    def _schedule(self) -> None:
        """The timer set for the earliest entry (only moved when that one changed)."""
        first = self._expiries[0][0] if self._expiries else math.inf
        if first == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = first
        if self._expiries:
            delay = max(0.0, first - time.time())
            self._timer = asyncio.get_running_loop().call_later(delay, self._expire)

    def _expire(self) -> None:
        self._timer, self._timer_at = None, math.inf
        now = time.time()
        while self._expiries and self._expiries[0][0] <= now:
            _, sid = heapq.heappop(self._expiries)
            connection = self.hub.connections.get(sid)
            if connection is not None and _ends_at(connection) <= now:
                self._end(connection, "token_expired")
        self._schedule()

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, math.inf
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep(self) -> None:
        """Runs while this process has sockets; the next connect starts it again."""
        try:
            while True:
                await asyncio.sleep(self.interval)
                if not self.hub.connections:
                    return
                try:
                    await self.recheck_sessions()
                except Exception:
                    log.exception("re-checking the sessions of open sockets failed")
        finally:
            self._sweeper = None

    async def recheck_sessions(self) -> None:
        connections = [c for c in self.hub.connections.values() if c.principal.session_id and not c.closing]
        if not connections:
            return
        ids = [c.principal.session_id for c in connections if c.principal.session_id]
        try:
            alive = await self.hub.context.authenticator.live_sessions(ids)
        except RedisError:
            log.warning("session store unreachable: open sockets keep their sessions for now")
            return
        for connection in connections:
            if connection.principal.session_id not in alive:
                self._end(connection, "session_revoked")

    def _end(self, connection: Connection, reason: str) -> None:
        if connection.closing or self.hub.connections.get(connection.sid) is not connection:
            return
        SOCKETS_CREDENTIALS_ENDED.labels(reason=reason).inc()
        log.info("closing a socket whose credentials ended (%s)", reason)
        eio_sid = self.hub.sio.manager.eio_sid_from_sid(connection.sid, connection.namespace)
        if eio_sid is None:
            return
        task = asyncio.ensure_future(close_transport(self.hub.sio, eio_sid))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)


def _ends_at(connection: Connection) -> float:
    expires_at = connection.principal.expires_at
    return math.inf if expires_at is None else expires_at + EXPIRY_LEEWAY_SECONDS
