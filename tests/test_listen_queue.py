"""The listening socket holds a reconnect herd: connects made while the process is starting (or
busy accepting) wait in the kernel's accept queue instead of being dropped.

A connect that finds the accept queue full is dropped by Linux without an answer, and the client's
kernel tries again only 1, 3, 7, 15 s later. After a restart under 5,000 clients, a queue of 2,048
(uvicorn's default) overflowed tens of thousands of times per run, and those clients came back
seconds late. The socket ``serve`` listens on asks for as long a queue as the kernel grants
(``net.core.somaxconn``).
"""

from __future__ import annotations

import select
import socket
import time
from pathlib import Path

from tutorhub_messaging.listening import bind

UVICORN_DEFAULT_BACKLOG = 2048


def _somaxconn() -> int:
    """The longest accept queue this kernel grants a listening socket."""
    try:
        return int(Path("/proc/sys/net/core/somaxconn").read_text())
    except (OSError, ValueError):
        return 4096  # Linux's default since 5.4


def _established(port: int, count: int, *, within: float) -> int:
    """How many of ``count`` connects to a socket nobody accepts from complete their handshake."""
    clients = [socket.socket() for _ in range(count)]
    poller = select.poll()
    try:
        for client in clients:
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
            poller.register(client, select.POLLOUT)
        pending = {client.fileno(): client for client in clients}
        done = 0
        deadline = time.monotonic() + within
        while pending and time.monotonic() < deadline:
            for fd, _event in poller.poll(50):
                client = pending.pop(fd, None)
                if client is None:
                    continue
                poller.unregister(fd)
                if client.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    done += 1
        return done
    finally:
        for client in clients:
            client.close()


def test_connects_past_uvicorns_default_backlog_wait_in_the_accept_queue() -> None:
    # Past uvicorn's 2,048, within what this kernel grants; nothing accepts, as while the new
    # process imports the service after a restart.
    wanted = min(UVICORN_DEFAULT_BACKLOG + 600, _somaxconn())
    listener = bind("127.0.0.1", 0)
    try:
        established = _established(listener.getsockname()[1], wanted, within=3.0)
    finally:
        listener.close()
    assert established == wanted, f"{wanted - established} of {wanted} connects were dropped"
