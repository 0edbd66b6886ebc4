"""Room broadcasts between processes: python-socketio's Redis pub/sub manager, with three changes.

- **The joining watch** of ``hub.arrivals``: its local delivery runs ``WatchingManager.emit``.
- **One publish for every namespace.** A room event goes to each namespace the hub is served
  under (``/hub/chat``, ``/messaging-api/hub/chat``, ...). The library publishes one message per
  namespace, and every process reads and decodes each of them; ``emit_in_namespaces`` publishes
  one, naming all the namespaces, and every process (this one included) delivers it in each. The
  message is an ordinary ``emit`` with one more key, so a process of an older version that reads
  it during a rolling deploy still delivers it in the first namespace.
- **One publish for several events in a row.** A user's arrival in a room is ``hub:presence`` and
  ``hub:online``, a departure ``hub:presence`` and ``hub:offline``: one message carries both
  (``EVENTS_KEY``), delivered in order; a reconnect storm or a stopping process publishes half as
  much. A process of an older version delivers only the first of them.
- **A pool that waits.** The library's client fails at once with "Too many connections" when all
  its connections are busy (a burst of broadcasts: a restart's departures, a reconnect storm's
  presence), and on a failed publish it drops its client and opens a new one, so the burst goes
  on failing. Its connections here come from a pool that waits, up to a timeout, for a free one,
  like the service's own Redis client.
- **Publishes written together.** What is published while a write is on its way to Redis waits
  for it, then goes in one pipeline: one connection taken from the pool and one round trip for a
  burst (a group commit's broadcasts, a restart's presence, a stopping process's departures)
  instead of one each. Order is kept: one writer, in the order ``_publish`` was called. Each
  caller still returns only once its own message was written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import socketio
from redis.asyncio import Redis
from socketio.packet import Packet

from tutorhub_messaging.hub.arrivals import WatchingManager
from tutorhub_messaging.microbatch import MicroBatcher
from tutorhub_messaging.redis_pools import blocking_pool

# The extra key of an emit meant for several namespaces.
NAMESPACES_KEY = "thNamespaces"
# The extra key of an emit of several events in a row to one room: ``[[event, data], ...]``.
EVENTS_KEY = "thEvents"
_POOLED_SCHEMES = frozenset({"redis", "rediss", "unix"})
# At most this many messages in one pipeline; the rest go in the next.
MAX_PIPELINE = 500

log = logging.getLogger(__name__)


class WatchingRedisManager(socketio.AsyncRedisManager, WatchingManager):  # type: ignore[misc]
    def __init__(
        self, url: str, *, channel: str, pool_size: int, pool_timeout: float, redis_options: dict[str, Any]
    ) -> None:
        self._pool_size = pool_size
        self._pool_timeout = pool_timeout
        # Messages are written as soon as the writer is free: no turn of the event loop is
        # waited for first, since a publish follows a commit whose broadcasts came together.
        # A message is never refused: a writer cancelled (the process stopping) lets its callers
        # go on, as a publish that failed twice does.
        self._writes = MicroBatcher[bytes | str, None](
            "publish", self._write, max_batch=MAX_PIPELINE, gather_first=False, abandoned=lambda: None
        )
        super().__init__(url, channel=channel, redis_options=redis_options)

    def _redis_connect(self) -> None:
        if urlparse(self.redis_url).scheme not in _POOLED_SCHEMES:
            super()._redis_connect()  # Sentinel and Valkey URLs: the library's own client
            return
        pool = blocking_pool(
            self.redis_url, max_connections=self._pool_size, timeout=self._pool_timeout, **self.redis_options
        )
        self.redis = Redis.from_pool(pool)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    async def _publish(self, data: Any) -> None:
        await self._writes.submit(self.json.dumps(data))

    async def _write(self, payloads: list[bytes | str]) -> list[None]:
        """One round trip for them all; tried twice, as the library tries a publish (the second
        time on a new client), then given up with a log line, as the library does."""
        written = [None] * len(payloads)
        for retries_left in (1, 0):
            try:
                if not self.connected:
                    self._redis_connect()
                if len(payloads) == 1:
                    await self.redis.publish(self.channel, payloads[0])
                    return written
                async with self.redis.pipeline(transaction=False) as pipe:
                    for payload in payloads:
                        pipe.publish(self.channel, payload)
                    await pipe.execute()
                return written
            except Exception as exc:
                if retries_left:
                    log.error("Cannot publish to redis... retrying", extra={"redisError": str(exc)})
                    self.connected = False
                else:
                    log.error(
                        "Cannot publish to redis... giving up %d messages",
                        len(payloads),
                        extra={"redisError": str(exc)},
                    )
        return written

    async def emit_in_namespaces(
        self,
        namespaces: Sequence[str],
        events: Sequence[tuple[str, Any]],
        *,
        room: str,
        skip_sid: str | None,
    ) -> None:
        simple = len(namespaces) == 1 and len(events) == 1
        if not events or simple or Packet.data_is_binary([data for _event, data in events]):
            await super().emit_in_namespaces(namespaces, events, room=room, skip_sid=skip_sid)
            return
        event, data = events[0]
        message = {
            "method": "emit",
            "event": event,
            "data": [data],
            "binary": False,
            "namespace": namespaces[0],
            NAMESPACES_KEY: list(namespaces),
            "room": room,
            "skip_sid": skip_sid,
            "callback": None,
            "host_id": self.host_id,
        }
        if len(events) > 1:
            message[EVENTS_KEY] = [[event, data] for event, data in events]
        await self._handle_emit(message)  # here
        await self._publish(message)  # and on every other process

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        namespaces = message.get(NAMESPACES_KEY)
        if not isinstance(namespaces, list):
            await super()._handle_emit(message)
            return
        for event, data in _events_of(message):
            for namespace in namespaces:
                if isinstance(namespace, str):
                    one = {**message, "event": event, "data": data, "namespace": namespace}
                    await super()._handle_emit(one)


def _events_of(message: dict[str, Any]) -> list[tuple[Any, Any]]:
    """The (event, data) pairs of a message: those under ``EVENTS_KEY``, else its own."""
    events = message.get(EVENTS_KEY)
    if isinstance(events, list) and all(isinstance(e, list) and len(e) == 2 for e in events):
        return [(event, [data]) for event, data in events]
    return [(message.get("event"), message.get("data"))]
