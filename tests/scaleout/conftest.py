"""Two real service processes on different ports, sharing the suite's database and one Redis
(under a prefix of their own, so parallel runs never meet)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.support.processes import ServiceProcess

REDIS_URL = "redis://127.0.0.1:6379/0"

ProcessFactory = Callable[..., ServiceProcess]


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = Redis.from_url(REDIS_URL)
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def processes(app: Any, database_url: str, redis_prefix: str) -> AsyncIterator[ProcessFactory]:
    """Starts service processes (after ``app`` emptied the tables); all stopped at the end."""
    started: list[ServiceProcess] = []

    def make(**env: Any) -> ServiceProcess:
        values = {
            "MESSAGING_DATABASE_URL": database_url,
            "MESSAGING_REDIS_URL": REDIS_URL,
            "MESSAGING_REDIS_PREFIX": redis_prefix,
            **{key: str(value) for key, value in env.items()},
        }
        process = ServiceProcess(values)
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop()


async def start_two(processes: ProcessFactory, **env: Any) -> tuple[ServiceProcess, ServiceProcess]:
    """Two processes with the same settings (``env`` on top of the shared ones), both started."""
    first, second = processes(**env), processes(**env)
    await first.start()
    await second.start()
    return first, second


@pytest.fixture
async def pair(processes: ProcessFactory) -> AsyncIterator[tuple[ServiceProcess, ServiceProcess]]:
    yield await start_two(processes)
