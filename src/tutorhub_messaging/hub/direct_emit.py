"""python-socketio's in-process emit, without a task per recipient.

The library's ``AsyncManager.emit`` encodes the packet once, then wraps the send to each recipient
in a task of its own and waits for them all (``asyncio.wait``). A send only checks the recipient's
ping and puts the packet on its outgoing queue, which never waits here (``hub.send_buffer``), so
each task is all overhead: in a profiled reconnect storm, creating them was 3-6 % of the process's
CPU, and every message of a two-user room pays for two of them and a wait.

Here the sends are made one after the other, in the recipients' order, once the packet is
encoded; the packet is not encoded at all when nobody is to receive it. Nothing else changes:
the emit returns once every recipient's send is done, as before. A recipient whose socket closed
meanwhile is skipped (its disconnect cleans up after it), and any other failure of one send is
logged and costs the others nothing, as a failed task did. Emits with a callback keep the
library's way (each recipient needs its own ack id).
"""

from __future__ import annotations

import logging
from typing import Any

import socketio
from engineio import packet as eio_packet
from engineio.exceptions import EngineIOError
from socketio import packet

log = logging.getLogger(__name__)


class DirectEmitManager(socketio.AsyncManager):  # type: ignore[misc]
    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        if callback is not None:
            await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
            )
            return
        room = to or room
        if namespace not in self.rooms:
            return
        skipped = skip_sid if isinstance(skip_sid, list) else [skip_sid]
        # Chosen before the first send, as the library chooses them before its tasks run.
        recipients = [
            eio_sid for sid, eio_sid in self.get_participants(namespace, room) if sid not in skipped
        ]
        if not recipients:
            return
        # A tuple is several arguments, None none, anything else one.
        arguments = list(data) if isinstance(data, tuple) else [] if data is None else [data]
        encoded = self.server.packet_class(
            packet.EVENT, namespace=namespace, data=[event, *arguments]
        ).encode()
        packets = [
            eio_packet.Packet(eio_packet.MESSAGE, part)
            for part in (encoded if isinstance(encoded, list) else [encoded])
        ]
        for eio_sid in recipients:
            for eio_pkt in packets:
                try:
                    await self.server._send_eio_packet(eio_sid, eio_pkt)
                except EngineIOError:
                    break  # closed meanwhile: nothing more for this socket
                except Exception:
                    log.warning("could not send %s to a socket", event, exc_info=True)
                    break
