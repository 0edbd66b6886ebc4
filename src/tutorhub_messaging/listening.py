"""The listening socket, bound before anything else is imported or started.

Binding first makes a busy port or an unknown host a one-line failure before migrations, before the
application starts, and before anything claims to be running. The socket also listens from then
on: a client that connects while the process is still starting (importing, migrating) waits in the
kernel's accept queue and is answered once the service is up, instead of being refused and backing
off. After a restart, that is what lets clients whose first reconnect attempt comes during the
start get back on that attempt rather than on the next one, seconds later. This module needs only
the standard library, so ``serve`` can bind before it imports its settings, the web framework or
the database layer (about 0.5 s on a slow machine, during which connects would be refused).
"""

from __future__ import annotations

import socket

MIN_PORT, MAX_PORT = 1, 65_535
# Connections the kernel holds for the process before it accepts them: as many as it grants (it
# caps this at net.core.somaxconn, 4,096 by default). After a restart, thousands of clients
# reconnect at once; one that finds the queue full is dropped and its kernel tries again only 1, 3,
# 7 and 15 s later. uvicorn's default, 2,048, overflowed tens of thousands of times per restart
# under 5,000 clients (docs/deployment.md, "Restarts").
LISTEN_BACKLOG = 65_535


class ServeError(Exception):
    """The service cannot start; the message is the one line the operator sees."""


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound as uvicorn would bind it; a one-line ``ServeError`` if it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family=family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise ServeError(f"cannot listen on {listen_url(host, port)}: {reason}") from None
    # Listening now, not when uvicorn starts: connects made during the start wait, not fail.
    sock.listen(LISTEN_BACKLOG)
    sock.set_inheritable(True)
    return sock


def listen_url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
