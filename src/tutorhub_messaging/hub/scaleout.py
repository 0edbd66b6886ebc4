"""Several processes serving one hub: the Redis-backed pieces, chosen when MESSAGING_REDIS_URL is set.

- room broadcasts go through python-socketio's ``AsyncRedisManager`` (pub/sub; ``hub.redis_broadcasts``);
- who is where (occupancy, presence, guardrails) lives in ``RedisHubState``;
- the message rate limiter is ``RedisRateLimiter`` (wired in ``app.build_context``).

Without Redis the hub is single-process and keeps all of this in memory.
"""

from __future__ import annotations

import logging

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.hub.arrivals import WatchingManager
from tutorhub_messaging.hub.membership import departure_events
from tutorhub_messaging.hub.redis_broadcasts import WatchingRedisManager
from tutorhub_messaging.hub.runtime import HubRuntime
from tutorhub_messaging.hub.state import Departure, Guardrails, HubState, InMemoryHubState
from tutorhub_messaging.hub.state_redis import RedisHubState
from tutorhub_messaging.settings import Settings

log = logging.getLogger(__name__)


def client_manager(settings: Settings) -> WatchingManager:
    """The pub/sub manager that carries room broadcasts between processes, or the in-memory one;
    both keep what a joining socket would miss (``hub.arrivals``)."""
    if not settings.redis_url:
        return WatchingManager()
    return WatchingRedisManager(
        settings.redis_url,
        channel=settings.redis_prefix + "socketio",
        pool_size=settings.redis_pool_size,
        pool_timeout=settings.redis_pool_timeout_ms / 1000,
        redis_options={"socket_connect_timeout": 2, "health_check_interval": 15},
    )


def hub_state(context: AppContext) -> HubState:
    guardrails = Guardrails(context.settings.max_users_per_room, context.settings.max_rooms_per_user)
    if context.redis is None:
        return InMemoryHubState(guardrails)
    return RedisHubState(context.redis, guardrails, prefix=context.settings.redis_prefix + "hub:")


async def announce_reaped(hub: HubRuntime, departures: list[Departure]) -> None:
    """A stopped process's users leave the rooms it held (as a disconnect would have said)."""
    for departure in departures:
        if departure.last_of_user:
            await hub.to_room_all(departure.room_id, departure_events(departure, offline=True))


def install_liveness(hub: HubRuntime) -> None:
    """With a shared state: beat while running, reap stopped processes, forget ourselves at exit."""
    state = hub.state
    if not isinstance(state, RedisHubState):
        return

    async def on_departures(departures: list[Departure]) -> None:
        await announce_reaped(hub, departures)

    async def run_liveness() -> None:
        await state.run_liveness(on_departures)

    async def forget_own_sockets() -> None:
        try:
            await state.forget_own_sockets()
        except Exception:
            log.warning("hub state: could not forget this process's sockets at shutdown")

    # Stopped first, then this process's sockets forgotten (shutdown hooks run in order).
    hub.context.run_while_serving(run_liveness)
    hub.context.on_shutdown.append(forget_own_sockets)
