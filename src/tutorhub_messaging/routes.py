"""Every REST router of the service, mounted at ``/`` (``/messaging-api`` is stripped before)."""

from __future__ import annotations

from fastapi import FastAPI

from tutorhub_messaging.conversations.endpoints import router as conversations_router
from tutorhub_messaging.erasure.endpoints import router as erasure_router
from tutorhub_messaging.hub.endpoints import router as hub_router
from tutorhub_messaging.identity.endpoints import router as identity_router
from tutorhub_messaging.messages.endpoints import router as messages_router
from tutorhub_messaging.outbox.endpoints import router as webhooks_router


def include_routers(app: FastAPI) -> None:
    app.include_router(conversations_router)
    app.include_router(messages_router)
    app.include_router(hub_router)
    app.include_router(identity_router)
    app.include_router(webhooks_router)
    app.include_router(erasure_router)
