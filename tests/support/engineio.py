"""Hand-made Engine.IO / Socket.IO sessions, for what the official clients never send: foreign
origins, broken packets, sockets that stop reading.

``PollingSession`` speaks the long-polling transport over plain HTTP; ``RawWebsocket`` the
websocket transport over aiohttp. Both stop at the wire: tests read exactly what the server sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from types import TracebackType
from typing import Any

import aiohttp
import httpx

TIMEOUT = 5.0
RECORD_SEPARATOR = "\x1e"


class PollingSession:
    """One Engine.IO long-polling session (``transport=polling``)."""

    def __init__(
        self, server_url: str, headers: dict[str, str] | None = None, path: str = "/socket.io/"
    ) -> None:
        self.base = server_url + path
        self.http = httpx.AsyncClient(headers=headers or {}, timeout=TIMEOUT)
        self.sid: str | None = None
        self.handshake: httpx.Response | None = None

    async def __aenter__(self) -> PollingSession:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.http.aclose()

    async def open(self) -> dict[str, Any]:
        """The Engine.IO handshake; returns the OPEN packet's data."""
        self.handshake = await self.http.get(self.base, params={"EIO": "4", "transport": "polling"})
        assert self.handshake.status_code == 200, self.handshake.text
        opening = self.handshake.text
        assert opening.startswith("0"), opening
        data: dict[str, Any] = json.loads(opening[1:])
        self.sid = data["sid"]
        return data

    async def post(self, *packets: str) -> httpx.Response:
        return await self.http.post(
            self.base,
            params={"EIO": "4", "transport": "polling", "sid": self.sid},
            content=RECORD_SEPARATOR.join(packets).encode(),
        )

    async def poll(self) -> list[str]:
        """One GET: the packets the server had (or has within the poll) for this session."""
        response = await self.http.get(
            self.base, params={"EIO": "4", "transport": "polling", "sid": self.sid}
        )
        if response.status_code != 200:
            return [f"HTTP {response.status_code}"]
        return response.text.split(RECORD_SEPARATOR) if response.text else []

    async def until(self, prefix: str, polls: int = 20) -> str:
        """Poll until a packet starting with ``prefix`` arrives; returns it."""
        seen: list[str] = []
        for _ in range(polls):
            for packet in await self.poll():
                if packet.startswith(prefix):
                    return packet
                seen.append(packet)
        raise AssertionError(f"no packet starting with {prefix!r}; got {seen}")


class RawWebsocket:
    """One Engine.IO session over a websocket, packet by packet."""

    def __init__(
        self, server_url: str, headers: dict[str, str] | None = None, path: str = "/socket.io/"
    ) -> None:
        self.url = server_url.replace("http://", "ws://") + path + "?EIO=4&transport=websocket"
        self.headers = headers or {}
        self._session = aiohttp.ClientSession()
        self.ws: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> RawWebsocket:
        self.ws = await self._session.ws_connect(self.url, headers=self.headers, autoping=False)
        opening = await self.receive()
        assert opening is not None and opening.startswith("0"), opening
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.ws is not None:
            await self.ws.close()
        await self._session.close()

    async def send(self, data: str | bytes) -> None:
        assert self.ws is not None
        if isinstance(data, bytes):
            await self.ws.send_bytes(data)
        else:
            await self.ws.send_str(data)

    async def receive(self, within: float = TIMEOUT) -> str | None:
        """The next text packet (Engine.IO pings answered on the way); None once the websocket
        is closed. Raises TimeoutError if nothing arrives in time."""
        assert self.ws is not None
        while True:
            message = await self.ws.receive(timeout=within)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
                return None
            if message.type is aiohttp.WSMsgType.ERROR:
                return None
            if message.type is aiohttp.WSMsgType.TEXT:
                if message.data == "2":
                    await self.ws.send_str("3")
                    continue
                return str(message.data)

    async def connect_namespace(self, namespace: str, token: str) -> str:
        """Socket.IO CONNECT with ``auth.token``; returns the server's answer packet."""
        await self.send(f"40{namespace},{json.dumps({'token': token})}")
        answer = await self.receive()
        assert answer is not None
        return answer

    async def closed_within(self, within: float) -> bool:
        """True when the server closes the websocket itself (not merely sends Engine.IO CLOSE)
        within ``within`` seconds; packets arriving meanwhile are read and dropped."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (remaining := deadline - loop.time()) > 0:
            try:
                if await self.receive(within=remaining) is None:
                    return True
            except TimeoutError:
                return False
        return False


async def next_packet_after(ws: RawWebsocket, prefix: str, within: float = TIMEOUT) -> str:
    """The next packet starting with ``prefix`` (others are skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (remaining := deadline - loop.time()) > 0:
        with contextlib.suppress(TimeoutError):
            packet = await ws.receive(within=remaining)
            if packet is None:
                raise AssertionError("the websocket closed")
            if packet.startswith(prefix):
                return packet
    raise AssertionError(f"no packet starting with {prefix!r} within {within}s")
