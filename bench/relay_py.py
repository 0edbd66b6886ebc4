"""Bare python-socketio relay: the benchmark's first baseline.

The protocol subset the load generator uses and nothing else (no auth, no storage, no checks),
served the way the service is: ASGI under uvicorn with uvloop, httptools, the sans-io websocket
implementation, per-message deflate off, and the same orjson codec. So the service's ratio to it
is the cost of everything the service does on top of the library.

    python bench/relay_py.py <port> [--gc-tuned]

``--gc-tuned`` also tunes the garbage collector exactly as ``tutorhub-messaging serve`` does
(startup heap frozen, young generation at 10,000 allocations): without it, the relay's own
collection pauses end its load ladder early, which flatters any ratio against it.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import socketio
import uvicorn

from tutorhub_messaging.cli import tune_garbage_collector

NAMESPACE = "/hub/chat"


class OrjsonCodec:
    @staticmethod
    def dumps(obj: Any, *args: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(data: str | bytes, *args: Any, **kwargs: Any) -> Any:
        return orjson.loads(data)


sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*", json=OrjsonCodec)


async def health_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    status = 200 if scope["path"] == "/health" else 404
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b'{"status":"ok"}'})


@sio.on("hub:join", namespace=NAMESPACE)  # type: ignore[untyped-decorator]
async def join(sid: str, data: Any) -> dict[str, Any] | None:
    room_id = data.get("roomId") if isinstance(data, dict) else None
    if not isinstance(room_id, str):
        return None
    await sio.emit(
        "hub:joined",
        {"roomId": room_id, "hubRole": "member", "userInfo": {"fullname": None, "avatar": None}},
        to=sid,
        namespace=NAMESPACE,
    )
    await sio.emit("hub:history", {"roomId": room_id, "messages": []}, to=sid, namespace=NAMESPACE)
    await sio.enter_room(sid, room_id, namespace=NAMESPACE)
    return {"success": True}


@sio.on("hub:leave", namespace=NAMESPACE)  # type: ignore[untyped-decorator]
async def leave(sid: str, data: Any) -> dict[str, Any]:
    if isinstance(data, dict) and isinstance(data.get("roomId"), str):
        await sio.leave_room(sid, data["roomId"], namespace=NAMESPACE)
    return {"success": True}


@sio.on("hub:send", namespace=NAMESPACE)  # type: ignore[untyped-decorator]
async def send(sid: str, data: Any) -> None:
    room_id = data.get("roomId") if isinstance(data, dict) else None
    if not isinstance(room_id, str):
        return
    now = datetime.now(UTC).isoformat()
    message = {
        "id": str(uuid.uuid4()),
        "roomId": room_id,
        "messageType": data.get("messageType"),
        "content": data.get("content"),
        "timestamp": now,
    }
    sender = {"id": sid, "fullname": None, "avatar": None}
    await sio.emit(
        "hub:messageArrived",
        {"roomId": room_id, "sender": sender, "message": message},
        to=room_id,
        namespace=NAMESPACE,
    )


app = socketio.ASGIApp(sio, other_asgi_app=health_app, socketio_path="socket.io")

if __name__ == "__main__":
    if "--gc-tuned" in sys.argv[2:]:
        tune_garbage_collector()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
    )
