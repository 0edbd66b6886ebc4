"""``tutorhub-messaging demo`` and ``serve --demo``: seed the demo into the configured database."""

from __future__ import annotations

import asyncio

from tutorhub_messaging.db.database import Database
from tutorhub_messaging.demo.seed import Seeded, seed_demo
from tutorhub_messaging.settings import Environment, Settings


class DemoRefused(Exception):
    """The demo is for development; production databases do not get made-up users."""


async def _seed(settings: Settings) -> Seeded:
    db = Database(settings.database_url, pool_size=settings.database_pool_size)
    try:
        async with db.unit_of_work() as uow:
            return await seed_demo(uow, settings)
    finally:
        await db.dispose()


def run_demo_seed(settings: Settings) -> Seeded:
    if settings.env is Environment.PRODUCTION:
        raise DemoRefused("the demo data is for development mode only (MESSAGING_ENV is production)")
    return asyncio.run(_seed(settings))
