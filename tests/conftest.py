"""Suite-wide fixtures: a real database (SQLite by default, PostgreSQL when
``MESSAGING_TEST_POSTGRES_URL`` is set), the whole app, an HTTP client and users with tokens.

Each test session migrates its own throwaway database; tables are emptied between tests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.databases import throwaway_database
from tests.support.live import live_server
from tests.support.local_redis import REDIS_URL
from tests.support.proxy import CuttableProxy
from tests.support.sockets import Sockets
from tests.support.users import TEST_SECRET, User
from tests.support.webhooks import Receiver
from tutorhub_messaging.app import create_app
from tutorhub_messaging.db.migrate import upgrade
from tutorhub_messaging.db.models import Base
from tutorhub_messaging.settings import Settings, load_settings

TABLES = [t.name for t in reversed(Base.metadata.sorted_tables)]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(tmp_path_factory.mktemp("db"), "tutorhub_test") as url:
        upgrade(url)
        yield url


@pytest.fixture
def settings_overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Override in a test module (or with indirect parametrisation) to change settings."""
    overrides: dict[str, Any] = getattr(request, "param", {})
    return overrides


@pytest.fixture
def settings(database_url: str, settings_overrides: dict[str, Any]) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "jwt_secret": TEST_SECRET,
        "log_level": "WARNING",
        **settings_overrides,
    }
    return load_settings(**values)


async def _empty_tables(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            if url.startswith("postgresql"):
                await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY"))
            else:
                for table in TABLES:
                    await conn.execute(text(f"DELETE FROM {table}"))
    finally:
        await engine.dispose()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    await _empty_tables(settings.database_url)
    application = create_app(settings)
    yield application
    await application.context.db.dispose()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def server_url(app: Any) -> AsyncIterator[str]:
    """The app served by a real uvicorn on loopback (for Socket.IO clients)."""
    async with live_server(app) as url:
        yield url


@pytest.fixture
async def hub(server_url: str) -> AsyncIterator[Sockets]:
    """Hub clients against the live server, all closed when the test ends."""
    async with Sockets(server_url) as sockets:
        yield sockets


@pytest.fixture
def student() -> User:
    return User("student")


@pytest.fixture
def tutor() -> User:
    return User("tutor")


@pytest.fixture
def admin() -> User:
    return User("admin")


@pytest.fixture
def super_admin() -> User:
    return User("superAdmin")


@pytest.fixture
def stranger() -> User:
    return User("student", fullname="Stranger")


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real webhook receiver on a loopback port (tests.support.webhooks)."""
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def redis_proxy() -> AsyncIterator[CuttableProxy]:
    """The local Redis behind a proxy the test can cut and restore (tests.support.proxy)."""
    proxy = CuttableProxy("127.0.0.1", 6379)
    await proxy.start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the local Redis (``REDIS_URL``)."""
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()
