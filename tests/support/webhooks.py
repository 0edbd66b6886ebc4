"""A real webhook receiver for the tests: an aiohttp server on a loopback port that records every
request (raw body and headers) and answers as the test tells it (2xx, 500, hang, or not listening)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.live import free_port

WEBHOOK_SECRET = "whsec-test-0123456789abcdef"


def verify_signature(secret: str, raw_body: bytes, header: str, tolerance: int = 300) -> bool:
    """The receiver's check, exactly as docs/integration.md gives it for Python."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    signed = f"{timestamp}.".encode() + raw_body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    raw: bytes
    answered: int  # the status the receiver answered (0: it hung)

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.raw)
        return parsed


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    # "ok", "fail" (500) or "hang" (never answers); or a function of the event deciding it.
    mode: str | Callable[[dict[str, Any]], str] = "ok"
    # Seconds every answer takes (a slow receiver).
    delay: float = 0.0
    # Answers set a cookie (a receiver behind a framework that sets session cookies).
    sets_cookie: bool = False
    requests: list[Received] = field(default_factory=list)
    # Event ids that arrived while a request for the same event was still being answered.
    overlaps: list[str] = field(default_factory=list)
    _in_flight: set[str] = field(default_factory=set)
    _runner: web.AppRunner | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True).start()

    async def stop(self) -> None:
        """Stop listening (connections are refused until ``start`` again)."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        event = json.loads(raw)
        if event["id"] in self._in_flight:
            self.overlaps.append(event["id"])
        self._in_flight.add(event["id"])
        try:
            mode = self.mode(event) if callable(self.mode) else self.mode
            if mode == "hang":
                self.requests.append(Received(dict(request.headers), raw, 0))
                self._changed.set()
                await asyncio.sleep(3600)
            if self.delay:
                await asyncio.sleep(self.delay)
            status = 500 if mode == "fail" else 204
            self.requests.append(Received(dict(request.headers), raw, status))
            self._changed.set()
            response = web.Response(status=status)
            if self.sets_cookie:
                response.set_cookie("receiver-session", event["id"])
            return response
        finally:
            self._in_flight.discard(event["id"])

    @property
    def delivered(self) -> list[dict[str, Any]]:
        """The events answered with a 2xx, in arrival order."""
        return [r.event for r in self.requests if 200 <= r.answered < 300]

    def delivered_ids(self) -> set[str]:
        return {event["id"] for event in self.delivered}

    async def wait_until(self, condition: Callable[[], bool], within: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + within
        while not condition():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"receiver: condition not met; {len(self.requests)} requests")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))


def webhook_settings(receiver: Receiver, **extra: Any) -> dict[str, Any]:
    """Settings that send every event to the receiver, with short timings for tests."""
    return {
        "webhook_urls": [receiver.url],
        "webhook_secret": WEBHOOK_SECRET,
        "webhook_timeout_seconds": 0.5,
        "webhook_lease_seconds": 2.0,
        "webhook_poll_seconds": 0.05,
        "webhook_batch_seconds": 0.01,
        "webhook_backoff_initial_seconds": 0.05,
        "webhook_backoff_max_seconds": 0.3,
        **extra,
    }


def webhook_env(receiver: Receiver, **extra: Any) -> dict[str, str]:
    """``webhook_settings`` as the environment of a service process."""
    return {
        f"MESSAGING_{key.upper()}": json.dumps(value) if isinstance(value, list) else str(value)
        for key, value in webhook_settings(receiver, **extra).items()
    }
