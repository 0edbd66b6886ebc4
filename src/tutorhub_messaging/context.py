"""The long-lived objects a running service shares, built once in ``app.create_app``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from tutorhub_messaging.db.database import Database
from tutorhub_messaging.hub.definition import HubDefinition
from tutorhub_messaging.hub.handshakes import RefusedAddresses
from tutorhub_messaging.identity.directory import DirectoryRefresher
from tutorhub_messaging.identity.sessions import Authenticator
from tutorhub_messaging.messages.service import MessageRules
from tutorhub_messaging.outbox.events import OutboxOptions
from tutorhub_messaging.realtime import HubControl, RoomNotifier, SilentHubControl, SilentNotifier
from tutorhub_messaging.settings import Settings

if TYPE_CHECKING:
    from tutorhub_messaging.hub.ratelimit import RateLimiter


@dataclass
class AppContext:
    settings: Settings
    db: Database
    authenticator: Authenticator
    hub: HubDefinition
    rate_limiter: RateLimiter
    # Client addresses whose connects keep being refused (see ``hub.handshakes``).
    refused_addresses: RefusedAddresses
    directory: DirectoryRefresher = field(default_factory=DirectoryRefresher)
    notifier: RoomNotifier = field(default_factory=SilentNotifier)
    hub_control: HubControl = field(default_factory=SilentHubControl)
    redis: Redis | None = None
    # What the outbox reads at each commit (webhook endpoints, room presence, the worker's wake).
    outbox: OutboxOptions = field(default_factory=OutboxOptions)
    # Work to run when the server starts and stops (background tasks of the hub).
    on_startup: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)
    on_shutdown: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    @property
    def message_rules(self) -> MessageRules:
        return MessageRules(self.hub, self.settings.max_message_bytes)

    def run_while_serving(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``job`` as a task from the server's start until its stop, when it is cancelled."""
        task: asyncio.Task[None] | None = None

        async def start() -> None:
            nonlocal task
            task = asyncio.create_task(job())

        async def stop() -> None:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

        self.on_startup.append(start)
        self.on_shutdown.append(stop)
