"""Room broadcasts between processes: python-socketio's Redis pub/sub manager, with three changes.

- **The joining watch** of ``hub.arrivals``: its local delivery runs ``WatchingManager.emit``.
- **One publish for every namespace.** A room event goes to each namespace the hub is served
  under (``/hub/chat``, ``/messaging-api/hub/chat``, ...). The library publishes one message per
  namespace, and every process reads and decodes each of them; ``emit_in_namespaces`` publishes
  one, naming all the namespaces, and every process (this one included) delivers it in each. The
  message is an ordinary ``emit`` with one more key, so a process of an older version that reads
  it during a rolling deploy still delivers it in the first namespace.
- **A pool that waits.** The library's client fails at once with "Too many connections" when all
  its connections are busy (a burst of broadcasts: a restart's departures, a reconnect storm's
  presence), and on a failed publish it drops its client and opens a new one, so the burst goes
  on failing. Its connections here come from a pool that waits, up to a timeout, for a free one,
  like the service's own Redis client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

import socketio
from redis.asyncio import BlockingConnectionPool, Redis
from socketio.packet import Packet

from tutorhub_messaging.hub.arrivals import WatchingManager

# The extra key of an emit meant for several namespaces.
NAMESPACES_KEY = "thNamespaces"
_POOLED_SCHEMES = frozenset({"redis", "rediss", "unix"})


class WatchingRedisManager(socketio.AsyncRedisManager, WatchingManager):  # type: ignore[misc]
    def __init__(
        self, url: str, *, channel: str, pool_size: int, pool_timeout: float, redis_options: dict[str, Any]
    ) -> None:
        self._pool_size = pool_size
        self._pool_timeout = pool_timeout
        super().__init__(url, channel=channel, redis_options=redis_options)

    def _redis_connect(self) -> None:
        if urlparse(self.redis_url).scheme not in _POOLED_SCHEMES:
            super()._redis_connect()  # Sentinel and Valkey URLs: the library's own client
            return
        pool = BlockingConnectionPool.from_url(
            self.redis_url, max_connections=self._pool_size, timeout=self._pool_timeout, **self.redis_options
        )
        self.redis = Redis.from_pool(pool)
        self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        self.connected = True

    async def emit_in_namespaces(
        self, namespaces: Sequence[str], event: str, data: Any, *, room: str, skip_sid: str | None
    ) -> None:
        if len(namespaces) == 1 or Packet.data_is_binary([data]):
            await super().emit_in_namespaces(namespaces, event, data, room=room, skip_sid=skip_sid)
            return
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
        await self._handle_emit(message)  # here
        await self._publish(message)  # and on every other process

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        namespaces = message.get(NAMESPACES_KEY)
        if not isinstance(namespaces, list):
            await super()._handle_emit(message)
            return
        for namespace in namespaces:
            if isinstance(namespace, str):
                await super()._handle_emit({**message, "namespace": namespace})
