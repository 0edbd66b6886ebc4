"""uvicorn's HTTP protocol with read timeouts: a client may not hold a connection open by sending
a request slowly, or not at all.

uvicorn times out only idle keep-alive connections, after a response. A connection that sends
nothing, or stops halfway through its headers or body, stayed open forever: a thousand of them
used up the process's file descriptors and new clients went unanswered. Here a connection must
deliver a request's headers within ``MESSAGING_HTTP_HEADER_TIMEOUT_SECONDS`` of opening (or of
starting that request on a kept-alive connection), and its body within
``MESSAGING_HTTP_BODY_TIMEOUT_SECONDS`` of the headers; otherwise it is closed and counted.
Websocket upgrades leave this protocol once their headers are complete.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from tutorhub_messaging.ops.metrics import HTTP_READ_TIMEOUTS
from tutorhub_messaging.settings import get_settings

log = logging.getLogger(__name__)


class TimedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._header_timeout = settings.http_header_timeout_seconds
        self._body_timeout = settings.http_body_timeout_seconds
        self._read_timer: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, stage: str) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, self._read_timed_out, stage)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self, stage: str) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        HTTP_READ_TIMEOUTS.labels(stage=stage).inc()
        log.info("closing a connection that did not send its request %s in time", stage)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self._header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_timer is None:  # a further request on a kept-alive connection
            self._arm(self._header_timeout, "headers")

    def on_headers_complete(self) -> None:
        if self.parser.should_upgrade() and self._should_upgrade():
            self._disarm()
        else:
            self._arm(self._body_timeout, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()
