"""The messages a joining socket would otherwise miss, caught without reading the database again.

A join reads the history before its socket enters the Socket.IO room, so that nothing live can
reach the client before ``hub:joined``/``hub:history``. A message stored after that read would be
lost if its broadcast came before the socket entered. Every ``hub:messageArrived`` broadcast goes
through this process's Socket.IO manager, whether it was sent here or came through Redis from
another process, and a message is broadcast only after it is stored. So the manager watches the
rooms being joined: a broadcast to such a room whose joining socket is not in it yet is kept for
that socket. Deciding "kept" or "delivered live" happens in the same synchronous step in which
the manager picks the room's recipients, so each message is one or the other, never both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import socketio

from tutorhub_messaging.messages.service import MESSAGE_ARRIVED


class ArrivalWatch:
    """The ``hub:messageArrived`` broadcasts a joining socket missed, in the order they came."""

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.missed: list[dict[str, Any]] = []


class WatchingManager(socketio.AsyncManager):  # type: ignore[misc]
    """python-socketio's in-process manager, keeping missed broadcasts for joining sockets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watches: dict[tuple[str, str], list[ArrivalWatch]] = {}

    @contextmanager
    def watch(self, namespace: str, room_id: str, sid: str) -> Iterator[ArrivalWatch]:
        """Keep what the room is sent while ``sid`` is not in it, until the block ends."""
        key = (namespace, room_id)
        watch = ArrivalWatch(sid)
        self._watches.setdefault(key, []).append(watch)
        try:
            yield watch
        finally:
            watches = self._watches[key]
            watches.remove(watch)
            if not watches:
                del self._watches[key]

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: str | None = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: str | None = None,
        **kwargs: Any,
    ) -> Any:
        # Redis managers call this for local delivery, of what this process sent and what others
        # did; it picks the recipients before it first awaits, and so does this check.
        if self._watches and event == MESSAGE_ARRIVED and isinstance(data, dict):
            self._keep(namespace or "/", to or room, skip_sid, data)
        return await super().emit(
            event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
        )

    def _keep(self, namespace: str, room: str | None, skip_sid: Any, data: dict[str, Any]) -> None:
        watches = self._watches.get((namespace, room)) if room is not None else None
        if not watches:
            return
        skipped = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        present = self.rooms.get(namespace, {}).get(room, {})
        for watch in watches:
            if watch.sid not in present and watch.sid not in skipped:
                watch.missed.append(data)


class WatchingRedisManager(socketio.AsyncRedisManager, WatchingManager):  # type: ignore[misc]
    """The Redis pub/sub manager with the same watch: its local delivery runs ``WatchingManager.emit``."""
