"""The messages a joining socket would otherwise miss, caught without reading the database again.

A join reads the history before its socket enters the Socket.IO room, so that nothing live can
reach the client before ``hub:joined``/``hub:history``. A message stored after that read would be
lost if its broadcast came before the socket entered. Every ``hub:messageArrived`` broadcast goes
through this process's Socket.IO manager, whether it was sent here or came through Redis from
another process, and a message is broadcast only after it is stored. So the manager watches the
rooms being joined: a broadcast to such a room whose joining socket is not in it yet is kept for
that socket. Deciding "kept" or "delivered live" happens in the same synchronous step in which
the manager picks the room's recipients, so each message is one or the other, never both.

The other way round, a message stored just before the history was read may still be on its way to
the room (stored, not yet broadcast, or crossing Redis) when the socket enters it: the client
would get it twice, in ``hub:history`` and live. So the joining socket also declares the recent
messages its history holds (``hold``), and for a short while their broadcasts skip it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from tutorhub_messaging.hub.room_index import RoomIndexedManager
from tutorhub_messaging.messages.service import MESSAGE_ARRIVED


class ArrivalWatch:
    """The ``hub:messageArrived`` broadcasts a joining socket missed, in the order they came."""

    def __init__(self, sid: str) -> None:
        self.sid = sid
        self.missed: list[dict[str, Any]] = []


class WatchingManager(RoomIndexedManager):
    """python-socketio's in-process manager (with rooms indexed by socket), keeping missed
    broadcasts for joining sockets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watches: dict[tuple[str, str], list[ArrivalWatch]] = {}
        # (namespace, room) -> message id -> sids that hold it; and when each of those lapses.
        self._held: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._lapses: deque[tuple[float, tuple[str, str], str, str]] = deque()

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

    def hold(
        self, namespace: str, room_id: str, sid: str, message_ids: Iterable[str], seconds: float
    ) -> None:
        """``sid`` already holds these messages of the room: for ``seconds``, a broadcast of one of
        them skips it."""
        self._lapse()
        key = (namespace, room_id)
        until = time.monotonic() + seconds
        for message_id in message_ids:
            self._held.setdefault(key, {}).setdefault(message_id, set()).add(sid)
            self._lapses.append((until, key, message_id, sid))

    def _lapse(self) -> None:
        now = time.monotonic()
        while self._lapses and self._lapses[0][0] <= now:
            _, key, message_id, sid = self._lapses.popleft()
            held = self._held.get(key, {})
            holders = held.get(message_id)
            if holders is None:
                continue
            holders.discard(sid)
            if not holders:
                del held[message_id]
                if not held:
                    del self._held[key]

    def _holders(self, namespace: str, room: str | None, data: dict[str, Any]) -> set[str]:
        self._lapse()
        held = self._held.get((namespace, room)) if room is not None else None
        message = data.get("message")
        message_id = message.get("id") if isinstance(message, dict) else None
        if not held or not isinstance(message_id, str):
            return set()
        return held.pop(message_id, set())

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
        if event == MESSAGE_ARRIVED and isinstance(data, dict):
            if self._watches:
                self._keep(namespace or "/", to or room, skip_sid, data)
            if self._held:
                holders = self._holders(namespace or "/", to or room, data)
                if holders:
                    skipped = skip_sid if isinstance(skip_sid, list) else [skip_sid]
                    skip_sid = [*skipped, *holders]
        return await super().emit(
            event, data, namespace=namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
        )

    async def emit_in_namespaces(
        self,
        namespaces: Sequence[str],
        events: Sequence[tuple[str, Any]],
        *,
        room: str,
        skip_sid: str | None,
    ) -> None:
        """Events, in order, to a room in each of several namespaces (``hub.transport``)."""
        for event, data in events:
            for namespace in namespaces:
                await self.emit(event, data, namespace=namespace, room=room, skip_sid=skip_sid)

    def _keep(self, namespace: str, room: str | None, skip_sid: Any, data: dict[str, Any]) -> None:
        watches = self._watches.get((namespace, room)) if room is not None else None
        if not watches:
            return
        skipped = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        present = self.rooms.get(namespace, {}).get(room, {})
        for watch in watches:
            if watch.sid not in present and watch.sid not in skipped:
                watch.missed.append(data)
