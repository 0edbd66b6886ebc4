"""Open sockets follow their credentials: a socket ends when its token expires, and (in session
store mode) soon after its session is deleted, as REST would refuse the same token by then.

The transport is closed, not just the namespace: the official client then reconnects by itself,
asking its ``auth`` callback for a token again, and a stale token is refused with
``connect_error`` "Invalid token" whose ``data.code`` is ``TOKEN_EXPIRED``, so a client holding a
fixed token knows to fetch a fresh one. The room sees the user leave, and the reconnected client
fills its gap with ``hub:join {after}``.

Expiry is one timer per socket (at ``exp`` plus the leeway tokens get everywhere). Sessions are
re-checked every ``MESSAGING_SESSION_RECHECK_SECONDS`` for all of this process's sockets at once,
one pipelined ``EXISTS`` per distinct session; a session store that cannot be asked disconnects
nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
        hub.context.on_shutdown.append(self.stop)

    def track(self, connection: Connection) -> None:
        """Called once the socket is connected."""
        expires_at = connection.principal.expires_at
        if expires_at is not None:
            delay = max(0.0, expires_at + EXPIRY_LEEWAY_SECONDS - time.time())
            connection.expiry = asyncio.get_running_loop().call_later(
                delay, self._end, connection, "token_expired"
            )
        if self.hub.context.authenticator.uses_session_store and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep())

    @staticmethod
    def forget(connection: Connection) -> None:
        if connection.expiry is not None:
            connection.expiry.cancel()
            connection.expiry = None

    async def stop(self) -> None:
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
        connection.expiry = None
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
