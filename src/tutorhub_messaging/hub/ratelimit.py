"""The message rate guardrail: one limiter for hub:send and the REST send route."""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def allow(self, key: str) -> bool:
        """Count one event for ``key``; False when that would exceed the limit."""


class InMemoryRateLimiter:
    """Sliding window of the last ``limit`` event times per key (single process)."""

    def __init__(self, limit: int, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._events: dict[str, deque[float]] = {}

    async def allow(self, key: str) -> bool:
        now = time.monotonic()
        events = self._events.get(key)
        if events is None:
            events = self._events[key] = deque()
        while events and now - events[0] >= self.window:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        if len(self._events) > 100_000:
            self._prune(now)
        return True

    def _prune(self, now: float) -> None:
        for key in [k for k, v in self._events.items() if not v or now - v[-1] >= self.window]:
            del self._events[key]


# Atomic sliding-window log: drop events older than the window, count, add if under the limit.
_SLIDING_WINDOW = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local member = ARGV[4]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  return 0
end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, window)
return 1
"""


class RedisRateLimiter:
    """The same sliding window, shared by every process through Redis.

    While Redis is unreachable each process falls back to its own in-memory window, so sends
    keep working (the limit then holds per process instead of across processes).
    """

    def __init__(
        self, redis: Redis, limit: int, window_seconds: float = 60.0, prefix: str = "thm:rate:"
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.window_ms = int(window_seconds * 1000)
        self.prefix = prefix
        self.fallback = InMemoryRateLimiter(limit, window_seconds)
        self._script = redis.register_script(_SLIDING_WINDOW)
        self._degraded = False

    async def allow(self, key: str) -> bool:
        now_ms = int(time.time() * 1000)
        try:
            allowed = await self._script(
                keys=[self.prefix + key],
                args=[now_ms, self.window_ms, self.limit, f"{now_ms}:{uuid.uuid4().hex[:8]}"],
            )
        except RedisError:
            if not self._degraded:
                log.warning("rate limiter: Redis unreachable, limiting per process")
                self._degraded = True
            return await self.fallback.allow(key)
        if self._degraded:
            log.info("rate limiter: Redis reachable again")
            self._degraded = False
        return bool(allowed)
