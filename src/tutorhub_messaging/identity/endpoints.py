"""M2M route that keeps the user directory in sync (``PUT /v1/m2m/users/{userId}``)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["m2m sync"])
