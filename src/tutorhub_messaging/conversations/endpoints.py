"""REST routes of the conversation API (``/v1/conversations``, ``/v1/myconversations``, ...)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["conversations"])
