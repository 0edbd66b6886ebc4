"""The message rate limiter: per-process window, and the Redis window shared by processes."""

from __future__ import annotations

import asyncio
import uuid

from redis.asyncio import BlockingConnectionPool, Redis

from tests.support.local_redis import REDIS_URL
from tutorhub_messaging.hub.ratelimit import InMemoryRateLimiter, RedisRateLimiter, Window


async def test_in_memory_limit_allows_exactly_the_limit_per_window() -> None:
    limiter = InMemoryRateLimiter(limit=3, window_seconds=60)
    results = [await limiter.allow("u1") for _ in range(4)]
    assert results == [True, True, True, False]
    assert await limiter.allow("u2") is True  # limits are per key


async def test_in_memory_window_slides() -> None:
    limiter = InMemoryRateLimiter(limit=1, window_seconds=0.05)
    assert await limiter.allow("u") is True
    assert await limiter.allow("u") is False
    await asyncio.sleep(0.06)
    assert await limiter.allow("u") is True


async def test_redis_limit_is_shared_by_two_limiters(redis: Redis) -> None:
    prefix = f"test:rate:{uuid.uuid4().hex}:"
    first = RedisRateLimiter(redis, limit=4, prefix=prefix)
    second = RedisRateLimiter(redis, limit=4, prefix=prefix)
    results = [await (first if i % 2 else second).allow("user") for i in range(6)]
    assert results == [True, True, True, True, False, False]
    await redis.delete(prefix + "user")


async def test_redis_unreachable_falls_back_to_a_per_process_window() -> None:
    unreachable = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    limiter = RedisRateLimiter(unreachable, limit=2)
    results = [await limiter.allow("user") for _ in range(3)]
    assert results == [True, True, False]
    await unreachable.aclose()


async def test_costs_count_against_a_window_in_memory() -> None:
    limiter = InMemoryRateLimiter(limit=30)
    window = Window(limit=1000, seconds=0.05)
    assert [await limiter.take("bytes", window, 400) for _ in range(3)] == [True, True, False]
    assert await limiter.take("bytes", window, 200) is True  # what is left still serves a small one
    await asyncio.sleep(0.06)
    assert await limiter.take("bytes", window, 1000) is True


async def test_costs_are_shared_through_redis_and_expire(redis: Redis) -> None:
    prefix = f"test:rate:{uuid.uuid4().hex}:"
    first = RedisRateLimiter(redis, limit=30, prefix=prefix)
    second = RedisRateLimiter(redis, limit=30, prefix=prefix)
    window = Window(limit=1000, seconds=0.2)
    results = [await (first if i % 2 else second).take("bytes", window, 400) for i in range(3)]
    assert results == [True, True, False]
    assert await first.take("bytes", window, 200) is True
    await asyncio.sleep(0.25)
    assert await second.take("bytes", window, 1000) is True
    await redis.delete(prefix + "bytes", prefix + "bytes:total")


async def test_concurrent_redis_takes_are_counted_exactly_and_sent_together() -> None:
    """Fifty takes at once, of two keys: each key allows exactly its limit, and the takes went in
    pipelines over one connection (one each would have opened up to the pool's ten)."""
    pool = BlockingConnectionPool.from_url(REDIS_URL, max_connections=10, timeout=5)
    client = Redis.from_pool(pool)
    prefix = f"test:rate:{uuid.uuid4().hex}:"
    limiter = RedisRateLimiter(client, limit=7, prefix=prefix)

    results = await asyncio.gather(*(limiter.allow("a" if n % 2 else "b") for n in range(50)))

    assert (results[1::2].count(True), results[0::2].count(True)) == (7, 7)
    assert len(pool._available_connections) + len(pool._in_use_connections) == 1
    await client.delete(*(prefix + key + suffix for key in "ab" for suffix in ("", ":total")))
    await client.aclose()


async def test_redis_takes_go_on_after_redis_forgets_the_script(redis: Redis) -> None:
    """A flushed script cache (a Redis restart) costs one more round trip, not a refusal."""
    prefix = f"test:rate:{uuid.uuid4().hex}:"
    limiter = RedisRateLimiter(redis, limit=3, prefix=prefix)
    assert await limiter.allow("user") is True
    await redis.script_flush()

    results = await asyncio.gather(*(limiter.allow("user") for _ in range(4)))

    assert results.count(True) == 2
    await redis.delete(prefix + "user", prefix + "user:total")
