"""Redis connection pools: every Redis client of the service gets its connections from here."""

from __future__ import annotations

from typing import Any

from redis.asyncio import BlockingConnectionPool
from redis.maint_notifications import MaintNotificationsConfig


def blocking_pool(
    url: str, *, max_connections: int, timeout: float, **options: Any
) -> BlockingConnectionPool:
    """A pool whose callers wait for a free connection (up to ``timeout``) instead of failing
    with "Too many connections" when more calls are in flight than it has connections.

    Maintenance notifications are turned off. They are a feature of managed Redis offerings
    (planned fail-overs announced over RESP3); with them on, which redis-py does by default for
    RESP3 connections, the pool skips its check that a connection taken from it is still open. A
    connection that Redis or the network closed while it sat idle (a Redis restart, a proxy or
    firewall timeout, an outage) then fails the next command sent on it with "Connection closed
    by server" instead of being reopened. With the check in place the pool reopens it before use.
    """
    return BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout,
        maint_notifications_config=MaintNotificationsConfig(enabled=False),
        **options,
    )
