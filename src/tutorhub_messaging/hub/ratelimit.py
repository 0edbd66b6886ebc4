"""Sliding-window rate limits: the message rate (hub:send and the REST send route) and the hub's
budgets (joins, events, bytes), in memory for one process or in Redis shared by every process.

A limiter counts a *cost* per event against a ``Window`` (at most ``limit`` per ``seconds``): the
cost is 1 for a count budget, the event's size for a bytes budget. An event is refused when it
would take the window's total over its limit; a refused event costs nothing.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from tutorhub_messaging.microbatch import MicroBatcher
from tutorhub_messaging.redis_scripts import ScriptCall, run_scripts

log = logging.getLogger(__name__)

MAX_KEYS = 100_000  # in memory: windows past this many keys are pruned of the idle ones


@dataclass(frozen=True, slots=True)
class Window:
    limit: int
    seconds: float


class RateLimiter(Protocol):
    async def allow(self, key: str) -> bool:
        """Count one message for ``key``; False when that would exceed the message rate."""

    async def take(self, key: str, window: Window, cost: int = 1) -> bool:
        """Count ``cost`` for ``key`` in ``window``; False (and nothing counted) when over it."""


class _Log:
    """One key's events in the window, oldest first, and their total cost.

    A list, not a deque: every connected socket has a few of these, and an empty deque takes
    760 bytes (its first block) against 56 for a list. Windows hold few events, so dropping the
    expired ones from the front is cheap."""

    __slots__ = ("events", "total")

    def __init__(self) -> None:
        self.events: list[tuple[float, int]] = []
        self.total = 0

    def expire(self, now: float, seconds: float) -> None:
        events = self.events
        gone = 0
        while gone < len(events) and now - events[gone][0] >= seconds:
            self.total -= events[gone][1]
            gone += 1
        if gone:
            del events[:gone]


class InMemoryRateLimiter:
    """Sliding window of the events of the last ``seconds`` per key (single process)."""

    def __init__(self, limit: int, window_seconds: float = 60.0) -> None:
        self.limit = limit
        self.window = window_seconds
        self._messages = Window(limit, window_seconds)
        self._logs: dict[str, _Log] = {}
        self._longest = window_seconds  # the longest window any key was counted in

    async def allow(self, key: str) -> bool:
        return self.take_now(key, self._messages)

    async def take(self, key: str, window: Window, cost: int = 1) -> bool:
        return self.take_now(key, window, cost)

    def take_now(self, key: str, window: Window, cost: int = 1) -> bool:
        now = time.monotonic()
        entry = self._logs.get(key)
        if entry is None:
            entry = self._logs[key] = _Log()
        entry.expire(now, window.seconds)
        if entry.total + cost > window.limit:
            return False
        entry.events.append((now, cost))
        entry.total += cost
        self._longest = max(self._longest, window.seconds)
        if len(self._logs) > MAX_KEYS:
            self._prune(now, self._longest)
        return True

    def full(self, key: str, window: Window) -> bool:
        """Whether ``key``'s window is at its limit now (one more would be refused)."""
        entry = self._logs.get(key)
        if entry is None:
            return False
        entry.expire(time.monotonic(), window.seconds)
        return entry.total >= window.limit

    def forget(self, key: str) -> None:
        self._logs.pop(key, None)

    def _prune(self, now: float, seconds: float) -> None:
        idle = [k for k, v in self._logs.items() if not v.events or now - v.events[-1][0] >= seconds]
        for key in idle:
            del self._logs[key]


# Atomic sliding-window log with costs: a sorted set of events (member "<time>:<nonce>:<cost>")
# and a running total beside it. Expired events are subtracted and dropped, then the new one is
# added if the total stays within the limit. Each event is added and removed once.
_SLIDING_WINDOW = """
local key = KEYS[1]
local total_key = KEYS[2]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local member = ARGV[4]
local cost = tonumber(ARGV[5])
local total = tonumber(redis.call('GET', total_key) or '0')
local expired = redis.call('ZRANGEBYSCORE', key, '-inf', now - window)
if #expired > 0 then
  for _, old in ipairs(expired) do
    total = total - tonumber(string.match(old, ':(%d+)$'))
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
end
if total < 0 or redis.call('EXISTS', key) == 0 then
  total = 0
end
if total + cost > limit then
  redis.call('SET', total_key, total, 'PX', window)
  return 0
end
redis.call('ZADD', key, now, member)
redis.call('PEXPIRE', key, window)
redis.call('SET', total_key, total + cost, 'PX', window)
return 1
"""


@dataclass(frozen=True, slots=True)
class _Take:
    key: str
    window: Window
    cost: int


class RedisRateLimiter:
    """The same sliding windows, shared by every process through Redis.

    The takes asked for while a round trip is on its way go together in the next one, as one
    pipeline of script calls (``microbatch.MicroBatcher``): a burst of sends, joins or events
    costs one Redis round trip per batch instead of one per event. A lone take is sent at once.

    While Redis is unreachable each process falls back to its own in-memory windows, so the hub
    keeps working (limits then hold per process instead of across processes).
    """

    MAX_BATCH = 500

    def __init__(
        self, redis: Redis, limit: int, window_seconds: float = 60.0, prefix: str = "thm:rate:"
    ) -> None:
        self.redis = redis
        self.limit = limit
        self._messages = Window(limit, window_seconds)
        self.prefix = prefix
        self.fallback = InMemoryRateLimiter(limit, window_seconds)
        self._script = redis.register_script(_SLIDING_WINDOW)
        self._degraded = False
        self._takes = MicroBatcher[_Take, bool](
            "rate limits", self._take_together, max_batch=self.MAX_BATCH, gather_first=False
        )

    async def allow(self, key: str) -> bool:
        return await self.take(key, self._messages)

    async def take(self, key: str, window: Window, cost: int = 1) -> bool:
        return await self._takes.submit(_Take(key, window, cost))

    async def _take_together(self, takes: list[_Take]) -> list[bool]:
        now_ms = int(time.time() * 1000)
        calls = [
            ScriptCall(
                self._script,
                [self.prefix + take.key, self.prefix + take.key + ":total"],
                [
                    now_ms,
                    int(take.window.seconds * 1000),
                    take.window.limit,
                    f"{now_ms}:{uuid.uuid4().hex[:8]}:{take.cost}",
                    take.cost,
                ],
            )
            for take in takes
        ]
        try:
            allowed = await run_scripts(self.redis, calls)
        except RedisError:
            if not self._degraded:
                log.warning("rate limiter: Redis unreachable, limiting per process")
                self._degraded = True
            return [self.fallback.take_now(take.key, take.window, take.cost) for take in takes]
        if self._degraded:
            log.info("rate limiter: Redis reachable again")
            self._degraded = False
        return [
            # A call Redis refused (out of memory, say) is limited per process, as in an outage.
            self.fallback.take_now(take.key, take.window, take.cost)
            if isinstance(result, RedisError)
            else bool(result)
            for take, result in zip(takes, allowed, strict=True)
        ]
