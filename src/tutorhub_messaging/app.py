"""The ASGI application: REST (FastAPI) and the realtime hub (Socket.IO) on one port."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import socketio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from redis.asyncio import Redis

from tutorhub_messaging import SERVICE_NAME, __version__
from tutorhub_messaging.context import AppContext
from tutorhub_messaging.db.database import Database
from tutorhub_messaging.db.search_limits import SearchLimits
from tutorhub_messaging.demo.endpoints import router as demo_router
from tutorhub_messaging.hub.budgets import budgets_from
from tutorhub_messaging.hub.chat import CHAT_HUB
from tutorhub_messaging.hub.handshakes import HandshakeGuard, RefusedAddresses
from tutorhub_messaging.hub.ratelimit import InMemoryRateLimiter, RedisRateLimiter
from tutorhub_messaging.hub.server import build_hub
from tutorhub_messaging.hub.transport import WebsocketFrames
from tutorhub_messaging.idempotency.pruning import install_pruning
from tutorhub_messaging.identity.sessions import Authenticator
from tutorhub_messaging.identity.tokens import TokenKeys
from tutorhub_messaging.logs import configure_logging, flush_logging
from tutorhub_messaging.ops.docs import router as docs_router
from tutorhub_messaging.ops.endpoints import router as ops_router
from tutorhub_messaging.ops.stalls import install_stall_watch
from tutorhub_messaging.origins import CookieOriginGuard
from tutorhub_messaging.outbox.events import OPTIONS_KEY, outbox_options
from tutorhub_messaging.outbox.worker import DeliveryWorker, WebhookConfig
from tutorhub_messaging.redis_pools import blocking_pool
from tutorhub_messaging.rest.errors import install_error_handlers
from tutorhub_messaging.rest.middleware import PrefixStrip, RequestContext
from tutorhub_messaging.rest.responses import JsonResponse
from tutorhub_messaging.rest.webapp import mount_web_client
from tutorhub_messaging.routes import include_routers
from tutorhub_messaging.settings import Environment, SessionStore, Settings, get_settings

log = logging.getLogger(__name__)


def _redis(settings: Settings) -> Redis | None:
    """A reconnect storm makes thousands of Redis calls at once: past the pool's size they wait
    for a free connection (up to the timeout) instead of failing with "Too many connections"."""
    if not settings.redis_url:
        return None
    pool = blocking_pool(
        settings.redis_url,
        max_connections=settings.redis_pool_size,
        timeout=settings.redis_pool_timeout_ms / 1000,
    )
    return Redis.from_pool(pool)


def build_context(settings: Settings) -> AppContext:
    redis = _redis(settings)
    session_redis = redis if settings.session_store is SessionStore.REDIS else None
    outbox = outbox_options(settings)
    return AppContext(
        settings=settings,
        db=Database(
            settings.database_url,
            pool_size=settings.database_pool_size,
            search=SearchLimits(
                connections=settings.search_connections,
                timeout_seconds=settings.search_timeout_ms / 1000,
                per_user=settings.searches_per_user,
                seconds_per_user=settings.search_seconds_per_user_per_minute,
                burst_seconds=settings.search_burst_seconds,
                busy_share=settings.search_busy_share,
                refusal_pause_seconds=settings.search_refusal_pause_ms / 1000,
            ),
            session_info={OPTIONS_KEY: outbox},
        ),
        outbox=outbox,
        authenticator=Authenticator(TokenKeys.from_settings(settings), session_redis),
        hub=replace(CHAT_HUB, budgets=budgets_from(settings)),
        rate_limiter=(
            RedisRateLimiter(redis, settings.message_rate_per_minute, prefix=settings.redis_prefix + "rate:")
            if redis is not None
            else InMemoryRateLimiter(settings.message_rate_per_minute)
        ),
        redis=redis,
        refused_addresses=RefusedAddresses(
            settings.hub_connect_refusals_per_address, float(settings.hub_budget_window_seconds)
        ),
    )


def create_fastapi(context: AppContext) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if context.settings.uses_dev_secret:
            log.warning("using the built-in development JWT secret: set MESSAGING_JWT_SECRET")
        for hook in context.on_startup:
            await hook()
        yield
        for hook in context.on_shutdown:
            await hook()
        if context.redis is not None:
            await context.redis.aclose()
        await context.db.dispose()
        flush_logging()  # a worker stopped by a signal runs no exit handlers

    app = FastAPI(
        title="TutorHub messaging",
        version=__version__,
        description="Conversations, chat messages and the realtime chat hub of TutorHub.",
        default_response_class=JsonResponse,
        lifespan=lifespan,
        docs_url=None,  # served by ``ops.docs`` from an installed package, not a CDN
        redoc_url=None,
    )
    app.state.context = context
    app.add_middleware(
        CORSMiddleware,
        allow_origins=context.settings.cors_origins,
        # Credentials (cookies) cross-origin only for origins listed explicitly: never for "*".
        allow_credentials="*" not in context.settings.cors_origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["x-request-id"],
    )
    install_error_handlers(app)
    app.include_router(ops_router)
    app.include_router(docs_router)
    include_routers(app)
    if context.settings.env is Environment.DEVELOPMENT:
        app.include_router(demo_router)  # demo sign-in: absent (404) in production
    mount_web_client(app, context.settings)
    _document_real_errors_only(app)
    return app


def _document_real_errors_only(app: FastAPI) -> None:
    """FastAPI documents a 422 on every route, but invalid input is answered 400 here."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for path in schema.get("paths", {}).values():
                for operation in path.values():
                    if isinstance(operation, dict):
                        operation.get("responses", {}).pop("422", None)
            for name in ("HTTPValidationError", "ValidationError"):
                schema.get("components", {}).get("schemas", {}).pop(name, None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None) -> Any:
    """The whole service as one ASGI callable (what ``serve`` runs and tests drive)."""
    if settings is None:
        # Called by uvicorn as the factory, possibly in a fresh worker process: log as JSON there too.
        settings = get_settings()
        configure_logging(settings.log_level, queue_lines=settings.log_queue_lines)
    context = build_context(settings)
    if settings.webhook_delivery == "inline":
        webhooks = DeliveryWorker(context.db, WebhookConfig.from_settings(settings), context.outbox)
        context.on_startup.append(webhooks.start)
        context.on_shutdown.append(webhooks.stop)
    # In the background: a restarting process answers (and takes its reconnecting clients) first.
    context.run_while_serving(context.db.warm_up)
    api = create_fastapi(context)
    sio = build_hub(context)
    install_pruning(context)
    install_stall_watch(context)
    inner = socketio.ASGIApp(
        sio,
        other_asgi_app=RequestContext(api, settings.max_body_bytes, log_access=settings.access_log),
        socketio_path="socket.io",
    )
    guarded = HandshakeGuard(WebsocketFrames(inner, sio), context.refused_addresses)
    app = PrefixStrip(CookieOriginGuard(guarded, settings.cors_origins))
    app.context = context  # type: ignore[attr-defined]
    app.sio = sio  # type: ignore[attr-defined]
    app.api = api  # type: ignore[attr-defined]
    log.debug("%s %s app built", SERVICE_NAME, __version__)
    return app
