"""python-socketio's in-process manager, with the rooms each socket entered indexed by socket.

The library keeps ``rooms[namespace][room] -> {sid: eio_sid}`` and nothing the other way round, so
a disconnect finds the socket's rooms by copying the namespace's whole room table and looking the
socket up in every room of it: the cost of one disconnect grows with every room of every socket of
the process. A process stopping with 5,000 sockets in 4 rooms each (10,000 chat rooms and 5,000 of
one socket each) spent its whole 10 s shutdown allowance in that scan, and the clients waited for
it before the new process could take the port. Here each socket's entered rooms are kept beside
the library's table, and a disconnect leaves exactly those. Its emits are ``hub.direct_emit``'s.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from tutorhub_messaging.hub.direct_emit import DirectEmitManager


class RoomIndexedManager(DirectEmitManager):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (namespace, sid) -> the rooms it entered besides the namespace's (None) and its own.
        # A socket in no such room has no entry: an idle connection costs nothing here.
        self._entered: dict[tuple[str, str], set[Hashable]] = {}

    def basic_enter_room(self, sid: str, namespace: str, room: Hashable, eio_sid: str | None = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if room is not None and room != sid:
            self._entered.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid: str, namespace: str, room: Hashable) -> None:
        super().basic_leave_room(sid, namespace, room)
        entered = self._entered.get((namespace, sid))
        if entered is not None:
            entered.discard(room)
            if not entered:
                del self._entered[(namespace, sid)]

    def basic_disconnect(self, sid: str, namespace: str, **kwargs: Any) -> None:
        """What the library's ``basic_disconnect`` does, without its scan of every room: leave the
        socket's rooms, then drop its callbacks and its pending connect or disconnect marks."""
        if namespace not in self.rooms:
            return
        for room in (*self._entered.pop((namespace, sid), ()), sid, None):
            super().basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]
