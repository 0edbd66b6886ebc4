"""Bounded outgoing buffers: a socket that does not read cannot make the process hold its backlog.

python-engineio gives every session an unbounded ``asyncio.Queue`` of packets waiting to be
written. uvicorn stops writing to a websocket whose peer stops reading (its buffer above the
high-water mark), so from then on everything broadcast to that socket piles up in the queue:
a member relaying large events into the room grew one reader's queue by hundreds of megabytes.

``SendBuffer`` replaces that queue. It counts the bytes and packets a session holds, both still
queued and handed to the writer but not yet written (python-engineio's writer takes every
queued packet at once and comes back for more only once they are written, so a batch counts
until its next ``get``). A packet that would take the session over either bound is not queued:
the session is marked overflowed and ``on_overflow`` disconnects it. An empty buffer always
takes one packet, so a single large packet (a full ``hub:history``) is never refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tutorhub_messaging.ops.metrics import SEND_BUFFER_BYTES, SEND_BUFFER_PEAK_BYTES


@dataclass(frozen=True, slots=True)
class SendBufferLimits:
    max_bytes: int
    max_packets: int


class _Totals:
    """Bytes held by every buffer of the process, and the most one buffer ever held."""

    queued_bytes = 0
    peak_bytes = 0


TOTALS = _Totals()
SEND_BUFFER_BYTES.set_function(lambda: TOTALS.queued_bytes)
SEND_BUFFER_PEAK_BYTES.set_function(lambda: TOTALS.peak_bytes)


def packet_size(pkt: Any) -> int:
    """The packet's size on the wire, near enough, without encoding it again."""
    data = getattr(pkt, "data", None)
    if isinstance(data, str | bytes | bytearray):
        return 1 + len(data)
    return 64


class SendBuffer(asyncio.Queue[Any]):
    def __init__(self, limits: SendBufferLimits, on_overflow: Callable[[], None]) -> None:
        super().__init__()
        self.limits = limits
        self.on_overflow = on_overflow
        self.bytes = 0
        self.packets = 0
        self.overflowed = False
        self.retired = False
        # Closes the connection under the session without waiting for its peer (a websocket's
        # TCP connection), when the server it runs on offers a way.
        self.abort_transport: Callable[[], None] | None = None
        self._handed_bytes = 0
        self._handed_packets = 0

    def adopt(self, queue: asyncio.Queue[Any]) -> None:
        """Take over what python-engineio queued before this buffer was installed."""
        while not queue.empty():
            self.put_nowait(queue.get_nowait())

    async def get(self) -> Any:
        # The writer is back for more: what it took last time has been written.
        self._release(self._handed_bytes, self._handed_packets)
        self._handed_bytes = self._handed_packets = 0
        return await super().get()

    def _get(self) -> Any:
        item = super()._get()
        if item is not None and not self.retired:
            self._handed_bytes += packet_size(item)
            self._handed_packets += 1
        return item

    def put_nowait(self, item: Any) -> None:
        # Refused here, before asyncio counts the item as unfinished, so that nothing waiting
        # for the queue to be worked off (python-engineio's ``close(wait=True)``) waits forever.
        if item is not None and not self.retired:
            if self.overflowed:
                return
            size = packet_size(item)
            limits = self.limits
            if self.packets and (self.bytes + size > limits.max_bytes or self.packets >= limits.max_packets):
                self.overflowed = True
                self.on_overflow()
                return
            self.bytes += size
            self.packets += 1
            TOTALS.queued_bytes += size
            if self.bytes > TOTALS.peak_bytes:
                TOTALS.peak_bytes = self.bytes
        super().put_nowait(item)

    def discard(self) -> None:
        """Drop everything queued (the session is being disconnected for its backlog)."""
        while not self.empty():
            self.get_nowait()
            self.task_done()
        self.retire()

    def retire(self) -> None:
        """The session has ended: stop counting (what is left is written or dropped with it)."""
        self._release(self.bytes, self.packets)
        self._handed_bytes = self._handed_packets = 0
        self.retired = True

    def _release(self, size: int, packets: int) -> None:
        if packets and not self.retired:
            self.bytes -= size
            self.packets -= packets
            TOTALS.queued_bytes -= size
