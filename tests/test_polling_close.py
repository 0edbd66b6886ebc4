"""A long-polling client that closes gets its pending poll answered, instead of keeping it open
until the ping timeout (45 s): Engine.IO spoken by hand over HTTP."""

from __future__ import annotations

import asyncio

import httpx
import orjson

from tests.support.users import User

# Far below the 45 s a pending poll would otherwise stay open.
ANSWERED_WITHIN = 10.0


async def test_closing_a_polling_session_answers_its_pending_poll(server_url: str, student: User) -> None:
    async with httpx.AsyncClient(base_url=server_url, timeout=60) as client:
        opened = await client.get("/socket.io/", params={"EIO": "4", "transport": "polling"})
        assert opened.text.startswith("0")
        sid = orjson.loads(opened.text[1:])["sid"]
        session = {"EIO": "4", "transport": "polling", "sid": sid}
        connect = orjson.dumps({"token": student.token}).decode()
        assert (
            await client.post("/socket.io/", params=session, content=f"40/hub/chat,{connect}")
        ).text == "OK"
        connected = await client.get("/socket.io/", params=session)
        assert connected.text.startswith("40/hub/chat,")

        pending = asyncio.create_task(client.get("/socket.io/", params=session))
        await asyncio.sleep(0.2)  # let the poll reach the server and wait there
        assert not pending.done()
        assert (await client.post("/socket.io/", params=session, content="1")).text == "OK"
        answered = await asyncio.wait_for(pending, ANSWERED_WITHIN)
        assert answered.status_code == 200
        assert answered.text == "6"  # NOOP
