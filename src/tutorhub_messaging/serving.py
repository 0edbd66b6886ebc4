"""Running the service under uvicorn on the socket ``listening.bind`` bound, and one line that says
what runs once it does.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

from tutorhub_messaging import SERVICE_NAME, __version__
from tutorhub_messaging.http_timeouts import TimedHttpToolsProtocol
from tutorhub_messaging.listening import LISTEN_BACKLOG, ServeError, listen_url
from tutorhub_messaging.logs import flush_logging, redact_url
from tutorhub_messaging.settings import Settings

log = logging.getLogger("tutorhub_messaging.serve")


def accepted_namespaces(settings: Settings) -> list[str]:
    """The hub namespaces clients may connect to (``MESSAGING_HUB_NAMESPACES``)."""
    return list(settings.hub_namespaces)


def startup_fields(settings: Settings, *, url: str, migrations: str, workers: int) -> dict[str, Any]:
    return {
        "version": __version__,
        "listen": url,
        "database": redact_url(settings.database_url),
        "migrations": migrations,
        "fanOut": redact_url(settings.redis_url) if settings.redis_url else "single process",
        "hubNamespaces": accepted_namespaces(settings),
        "workers": workers,
        "pid": os.getpid(),
    }


def log_started(fields: dict[str, Any]) -> None:
    fan_out = fields["fanOut"] if fields["fanOut"] == "single process" else f"Redis {fields['fanOut']}"
    log.info(
        "%s %s listening on %s (database %s, migrations %s, %s, hub namespaces %s)",
        SERVICE_NAME,
        fields["version"],
        fields["listen"],
        fields["database"],
        fields["migrations"],
        fan_out,
        ", ".join(fields["hubNamespaces"]),
        extra={"event": "started", **fields},
    )


class _Server(uvicorn.Server):
    """uvicorn's server, which says it started only once the application has and the port listens."""

    def __init__(self, config: uvicorn.Config, started: dict[str, Any]) -> None:
        super().__init__(config)
        self._started_fields = started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.should_exit:
            log_started(self._started_fields)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        # uvicorn re-raises the stopping signal afterwards, so exit handlers never run: say it here.
        log.info("%s stopped", SERVICE_NAME, extra={"event": "stopped", "pid": os.getpid()})
        flush_logging()


def run(
    settings: Settings, sock: socket.socket, *, host: str, port: int, workers: int, migrations: str
) -> None:
    config = uvicorn.Config(
        "tutorhub_messaging.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=TimedHttpToolsProtocol,  # httptools, with header and body read timeouts
        ws="websockets-sansio",
        ws_per_message_deflate=False,  # deflate costs CPU and ~2x memory per connection
        log_config=None,
        access_log=False,  # the service writes its own access log (``rest.middleware.AccessLog``)
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        backlog=LISTEN_BACKLOG,
    )
    fields = startup_fields(settings, url=listen_url(host, port), migrations=migrations, workers=workers)
    if workers > 1:
        # Each worker process builds its own application; the parent only holds the socket.
        log_started(fields)
        Multiprocess(config, sockets=[sock]).run()
    else:
        server = _Server(config, fields)
        server.run(sockets=[sock])
        if not server.started:
            raise ServeError("the service did not start (see the lines above)")
