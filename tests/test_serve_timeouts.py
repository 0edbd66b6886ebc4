"""``serve`` closes connections that do not deliver their request in time, so unfinished requests
cannot pile up and starve new clients of descriptors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.processes import ServiceProcess

UNFINISHED = 60
CLOSED_WITHIN = 20.0


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[ServiceProcess]:
    process = ServiceProcess(
        {
            "MESSAGING_DATABASE_URL": database_url,
            "MESSAGING_HTTP_HEADER_TIMEOUT_SECONDS": "1",
            "MESSAGING_HTTP_BODY_TIMEOUT_SECONDS": "1",
        }
    )
    await process.start()
    try:
        yield process
    finally:
        process.stop()


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    """True once the server closes the connection (whatever it sent before closing)."""
    try:
        async with asyncio.timeout(CLOSED_WITHIN):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


def _metric(text: str, stage: str) -> float:
    for line in text.splitlines():
        if line.startswith(f'messaging_http_read_timeouts_total{{stage="{stage}"}} '):
            return float(line.split()[1])
    return 0.0


async def test_unfinished_requests_are_closed_and_new_clients_are_served(service: ServiceProcess) -> None:
    unfinished = [
        b"",  # connects and sends nothing
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ",  # stops halfway through its headers
        b"POST /v1/conversations HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",  # and its body
    ]
    connections = []
    try:
        for index in range(UNFINISHED):
            reader, writer = await asyncio.open_connection("127.0.0.1", service.port)
            writer.write(unfinished[index % len(unfinished)])
            await writer.drain()
            connections.append((reader, writer))

        closed = await asyncio.gather(*(_closed_by_server(reader) for reader, _ in connections))

        assert all(closed), f"{closed.count(False)} of {UNFINISHED} unfinished requests still open"
        async with httpx.AsyncClient() as client:
            assert (await client.get(service.url + "/health")).status_code == 200
            metrics = (await client.get(service.url + "/metrics")).text
        assert _metric(metrics, "headers") >= 2 * UNFINISHED // 3
        assert _metric(metrics, "body") >= UNFINISHED // 3
    finally:
        for _, writer in connections:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def test_a_request_that_arrives_in_time_is_served_on_a_kept_alive_connection(
    service: ServiceProcess,
) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(3):
            assert (await client.get(service.url + "/health")).status_code == 200
