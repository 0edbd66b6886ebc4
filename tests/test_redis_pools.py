"""The service's Redis pools against a real Redis, through a proxy that can drop connections."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import Redis

from tests.support.proxy import CuttableProxy
from tutorhub_messaging.redis_pools import blocking_pool


def client_through(proxy: CuttableProxy, connections: int) -> Redis:
    pool = blocking_pool(f"redis://127.0.0.1:{proxy.port}/0", max_connections=connections, timeout=1)
    return Redis.from_pool(pool)


async def test_a_connection_closed_while_idle_is_reopened_before_its_next_command(
    redis_proxy: CuttableProxy,
) -> None:
    """Redis restarted, or a firewall dropped the idle connection: the next command still works."""
    redis = client_through(redis_proxy, connections=2)
    key = f"test:pools:{uuid.uuid4().hex}"
    try:
        assert await redis.set(key, "kept") is True
        await redis_proxy.cut()  # closes the pooled connection under the idle client
        await redis_proxy.restore()
        assert await redis.get(key) == b"kept"
    finally:
        await redis.delete(key)
        await redis.aclose()


async def test_connections_dropped_together_are_each_reopened(redis_proxy: CuttableProxy) -> None:
    """Several connections open at once, all dropped together: each is reopened when next taken."""
    redis = client_through(redis_proxy, connections=4)
    try:
        await asyncio.gather(*(redis.ping() for _ in range(4)))
        await redis_proxy.cut()
        await redis_proxy.restore()
        assert await asyncio.gather(*(redis.ping() for _ in range(8))) == [True] * 8
    finally:
        await redis.aclose()
