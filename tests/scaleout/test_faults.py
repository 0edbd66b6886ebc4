"""Faults: a process killed under load, Redis lost and back, the database lost and back.

Network outages go through a TCP proxy the test cuts and restores, so the shared PostgreSQL and
Redis servers keep running for everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.scaleout.conftest import ProcessFactory, start_two
from tests.support.hub_rooms import create_room
from tests.support.processes import ServiceProcess
from tests.support.proxy import CuttableProxy
from tests.support.sockets import Sockets
from tests.support.users import User
from tutorhub_messaging.db.migrate import upgrade
from tutorhub_messaging.db.models import ChatMessage

POSTGRES_ADMIN_URL = os.environ.get(
    "MESSAGING_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


async def stored_ids(app: Any, room: str) -> set[str]:
    async with app.context.db.unit_of_work() as uow:
        rows = await uow.session.scalars(select(ChatMessage.id).where(ChatMessage.room_id == room))
        return set(rows)


async def wait_for_status(url: str, path: str, status: int, within: float = 20.0) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            response = await client.get(url + path, timeout=5)
            if response.status_code == status:
                return response
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{path} stayed {response.status_code}: {response.text}")
            await asyncio.sleep(0.2)


async def test_sigkill_under_load_loses_no_acknowledged_message(
    app: Any, processes: ProcessFactory, student: User, tutor: User
) -> None:
    doomed, survivor = await start_two(processes, MESSAGING_MESSAGE_RATE_PER_MINUTE=100_000)
    room = await create_room(app, student, tutor)
    acked: list[str] = []
    enough_acked = asyncio.Event()
    async with Sockets(doomed.url) as on_doomed, Sockets(survivor.url) as on_survivor:
        sender = await on_doomed.connect(student)
        listener = await on_survivor.connect(tutor)
        await sender.join(room)
        await listener.join(room)

        async def steady_load() -> None:
            for index in range(10_000):
                try:
                    ack = await sender.send(room, f"load {index}")
                except Exception:
                    return  # the process is gone: the unacknowledged send may or may not be stored
                if ack.get("success"):
                    acked.append(ack["message"]["id"])
                    if len(acked) >= 40:
                        enough_acked.set()
                await asyncio.sleep(0.005)

        load = asyncio.create_task(steady_load())
        await asyncio.wait_for(enough_acked.wait(), timeout=30)
        doomed.kill()
        await asyncio.wait_for(load, timeout=30)

        stored = await stored_ids(app, room)
        assert set(acked) <= stored, f"{len(set(acked) - stored)} acknowledged messages were lost"
        # The survivor's clients keep working.
        ack = await listener.send(room, "after the crash")
        assert ack["success"] is True
        own = await listener.next("hub:messageArrived", lambda p: p["message"]["id"] == ack["message"]["id"])
        assert own["sender"]["id"] == tutor.id
        with contextlib.suppress(Exception):
            await sender.disconnect()


async def test_redis_lost_and_back_while_running(
    app: Any, processes: ProcessFactory, redis_proxy: CuttableProxy, student: User, tutor: User
) -> None:
    service = processes(MESSAGING_REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/0")
    await service.start()
    room = await create_room(app, student, tutor)
    await wait_for_status(service.url, "/ready", 200)

    await redis_proxy.cut()
    unready = await wait_for_status(service.url, "/ready", 503)
    assert unready.json()["checks"] == {"database": "ok", "redis": "unavailable"}
    # What does not need Redis keeps working: REST reads and writes go to the database.
    async with httpx.AsyncClient(base_url=service.url, headers=student.headers) as client:
        sent = await client.post(f"/chat/{room}/messages", json={"data": {"body": "during the outage"}})
        assert sent.status_code == 201, sent.text
        listed = await client.get(f"/chat/{room}/messages")
        assert [m["id"] for m in listed.json()["data"]] == [sent.json()["data"]["id"]]

    await redis_proxy.restore()
    await wait_for_status(service.url, "/ready", 200)
    async with Sockets(service.url) as sockets:
        first = await sockets.connect(student)
        second = await sockets.connect(tutor)
        _, history = await first.join(room)
        assert [m["content"]["body"] for m in history["messages"]] == ["during the outage"]
        await second.join(room)
        ack = await first.send(room, "after the outage")
        assert ack["success"] is True
        arrived = await second.next("hub:messageArrived")
        assert arrived["message"]["id"] == ack["message"]["id"]


async def test_redis_unreachable_at_start_then_back(
    app: Any, processes: ProcessFactory, redis_proxy: CuttableProxy, student: User
) -> None:
    await redis_proxy.cut()
    service = processes(MESSAGING_REDIS_URL=f"redis://127.0.0.1:{redis_proxy.port}/0")
    await service.start()  # starts and serves without Redis
    unready = await wait_for_status(service.url, "/ready", 503)
    assert unready.json()["checks"]["redis"] == "unavailable"
    await redis_proxy.restore()
    await wait_for_status(service.url, "/ready", 200)


@pytest.fixture
async def postgres_behind_proxy() -> AsyncIterator[tuple[str, CuttableProxy]]:
    """A throwaway PostgreSQL database reached through a proxy the test can cut."""
    name = f"tutorhub_fault_{uuid.uuid4().hex[:8]}"
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    await asyncio.to_thread(upgrade, f"{base}/{name}")
    proxy = CuttableProxy("127.0.0.1", 5432)
    await proxy.start()
    yield f"postgresql+asyncpg://postgres@127.0.0.1:{proxy.port}/{name}", proxy
    await proxy.close()
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def test_database_lost_and_back_without_a_restart(
    processes: ProcessFactory, postgres_behind_proxy: tuple[str, CuttableProxy], student: User
) -> None:
    url, proxy = postgres_behind_proxy
    service: ServiceProcess = processes(MESSAGING_DATABASE_URL=url)
    await service.start()
    async with httpx.AsyncClient(base_url=service.url, headers=student.headers) as client:
        assert (await client.get("/v1/myconversations")).status_code == 200

        await proxy.cut()
        during = await client.get("/v1/myconversations")
        assert during.status_code == 503
        assert during.json()["message"] == "errMsg_serviceUnavailable"
        assert "Traceback" not in during.text
        assert (await client.get("/ready")).status_code == 503

        await proxy.restore()
        await wait_for_status(service.url, "/ready", 200)
        after = await client.get("/v1/myconversations")
        assert after.status_code == 200
