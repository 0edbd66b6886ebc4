"""REST routes of the chatMessage API (``/v1/v1/chat-messages`` and its ``/v1/chat-messages`` alias)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["chat messages"])
