"""The hub's REST routes (``/chat/{roomId}/...``): same rules and events as the socket protocol."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["chat hub"])
