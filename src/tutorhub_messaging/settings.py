"""Typed service settings, read from ``MESSAGING_*`` environment variables and validated at start."""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as EnvironmentReadError

log = logging.getLogger(__name__)

# Used only when MESSAGING_ENV=development and no secret is configured; production refuses it.
DEV_JWT_SECRET = "tutorhub-messaging-development-secret-do-not-use-in-production"
DEFAULT_SYSTEM_ADMIN_ID = "00000000-0000-4000-8000-000000000001"
# An HS256 key shorter than its 256-bit output is guessable offline from one token (RFC 7518 §3.2).
MIN_HS256_SECRET_BYTES = 32
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# Joins read together per batch when MESSAGING_HUB_JOINS_RUNNING is unset (see joins_per_batch).
JOINS_PER_BATCH = 10
SQLITE_JOINS_PER_BATCH = 50

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0)]


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class SessionStore(StrEnum):
    TOKEN = "token"
    REDIS = "redis"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MESSAGING_", extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite+aiosqlite:///./tutorhub-messaging.db"
    database_pool_size: PositiveInt = 10
    redis_url: str | None = None
    # Every Redis key and pub/sub channel of the service starts with this, so several deployments
    # (or test runs) can share one Redis.
    redis_prefix: str = Field(default="thm:", pattern=r"^[A-Za-z0-9:_.-]{1,64}$")
    # Connections to Redis per process (hub state, budgets, rate limit, sessions; the broadcasts'
    # pub/sub has a pool of the same size); a call that finds them all busy waits up to the
    # timeout for one instead of failing at once.
    redis_pool_size: PositiveInt = 100
    redis_pool_timeout_ms: PositiveInt = 5000
    jwt_secret: SecretStr | None = None
    jwt_public_key_file: Path | None = None
    session_store: SessionStore = SessionStore.TOKEN
    system_admin_id: str = DEFAULT_SYSTEM_ADMIN_ID
    cors_origins: list[str] = Field(default_factory=lambda: ["*"])
    log_level: str = "INFO"
    app_version: str = "1.0.0"

    # Hub guardrails (the guide's defaults).
    max_users_per_room: PositiveInt = 10
    max_rooms_per_user: PositiveInt = 100
    message_rate_per_minute: PositiveInt = 30
    max_message_bytes: PositiveInt = 65_536
    connect_timeout_ms: PositiveInt = 300_000
    history_on_join: PositiveInt = 50

    # REST request bodies above this are answered with 413 before they are parsed.
    max_body_bytes: PositiveInt = 1_048_576

    # Logging: one JSON access line per REST request; log lines wait in a bounded queue so a
    # stalled log reader never blocks the service (lines past the bound are dropped and counted).
    access_log: bool = True
    log_queue_lines: PositiveInt = 10_000

    # Full garbage collections of `serve`: at most one per this many middle-generation ones
    # (Python's default is 10; see cli.tune_garbage_collector).
    gc_full_collection_every: PositiveInt = 100

    # --- Outgoing events: outbox and signed webhooks ---
    webhook_urls: list[str] = Field(default_factory=list)
    webhook_secret: SecretStr | None = None
    # Event types sent to the webhooks; None: every type.
    webhook_events: list[str] | None = None
    webhook_timeout_seconds: PositiveFloat = 5.0
    # A delivery is retried (exponential backoff with jitter) this long, then dead-lettered.
    webhook_retry_budget_seconds: PositiveFloat = 86_400.0
    webhook_backoff_initial_seconds: PositiveFloat = 1.0
    webhook_backoff_max_seconds: PositiveFloat = 600.0
    # "inline": every service process delivers; "separate": only `tutorhub-messaging deliver` does.
    webhook_delivery: Literal["inline", "separate"] = "inline"
    # Rooms whose events are in flight per endpoint and process (one request per room at a time).
    webhook_concurrency: PositiveInt = 32
    # How many of a room's pending events one lease takes; they are sent one after another.
    webhook_room_batch: PositiveInt = 50
    # How often each process looks for due deliveries besides being woken by its own commits.
    webhook_poll_seconds: PositiveFloat = 1.0
    # Rounds of one endpoint's loop are at least this far apart (claims and settles are batched).
    webhook_batch_seconds: PositiveFloat = 0.05
    # A process holds a delivery this long; after it, a killed process's deliveries go to another.
    webhook_lease_seconds: PositiveFloat = 30.0
    # Delivered events (and events with no webhook to deliver to) are deleted after this.
    outbox_retention_seconds: PositiveFloat = 604_800.0

    # Idempotency-Key on service calls: how long a key's first answer is replayed, and how often
    # each process deletes the keys past that.
    idempotency_key_ttl_seconds: PositiveInt = 86_400
    idempotency_prune_interval_seconds: PositiveInt = 600
    # Erasing a user: their messages are rewritten this many at a time (one unit of work).
    erasure_batch_size: PositiveInt = 500

    # Hostile clients and unlucky deployments: transport limits.
    # A socket whose unwritten outgoing packets exceed either bound (it stopped reading) is
    # disconnected; an empty buffer always takes one packet, however large.
    socket_buffer_max_bytes: PositiveInt = 8_388_608
    socket_buffer_max_packets: PositiveInt = 2_000
    # The hub's namespaces, exactly; any other is refused at connect. The third is what the
    # guide's ChatHub example asks for when its baseUrl already ends in /messaging-api.
    hub_namespaces: list[Annotated[str, Field(pattern=r"^/[A-Za-z0-9/_.-]{0,255}$")]] = Field(
        default_factory=lambda: [
            "/hub/chat",
            "/messaging-api/hub/chat",
            "/messaging-api/messaging-api/hub/chat",
        ],
        min_length=1,
        max_length=16,
    )

    # serve: a connection must deliver a request's headers, then its body, within these.
    http_header_timeout_seconds: Annotated[float, Field(gt=0)] = 10.0
    http_body_timeout_seconds: Annotated[float, Field(gt=0)] = 30.0
    # Session store mode: how often open sockets re-check that their session still exists.
    session_recheck_seconds: Annotated[float, Field(gt=0)] = 30.0

    # Hub budgets: per window of hub_budget_window_seconds, per user (across sockets and
    # processes) and per socket, for joins and leaves, standard events (typing, stopTyping,
    # messageRead) and custom events; beyond them an event is refused with RATE_LIMITED.
    hub_budget_window_seconds: PositiveInt = 10
    hub_joins_per_user: PositiveInt = 20
    hub_joins_per_socket: PositiveInt = 10
    hub_events_per_user: PositiveInt = 60
    hub_events_per_socket: PositiveInt = 30
    hub_event_bytes_per_user: PositiveInt = 65_536
    hub_event_bytes_per_socket: PositiveInt = 32_768
    hub_custom_events_per_user: PositiveInt = 50
    hub_custom_events_per_socket: PositiveInt = 30
    hub_custom_event_bytes_per_user: PositiveInt = 524_288
    hub_custom_event_bytes_per_socket: PositiveInt = 262_144
    # Sockets one user may have connected at once (all processes); more are refused at connect.
    hub_sockets_per_user: PositiveInt = 20
    # Socket connects one user may make per window (all processes); more are refused at connect,
    # before anything is stored: a client disconnected for flooding cannot come straight back.
    hub_connects_per_user: PositiveInt = 60
    # Refusals (RATE_LIMITED) one socket may collect per window; at the next one it is told so
    # (hub:error RATE_LIMITED) and disconnected, instead of being refused event by event.
    hub_refusals_per_socket: PositiveInt = 20
    # The same for refused standard events (typing, ...) and messages refused by the message
    # rate, far above what fast typing produces when a client emits typing on every keypress
    # (about 100 per window, 30 of them allowed) or a client flushing messages queued offline.
    hub_standard_event_refusals_per_socket: PositiveInt = 300
    # Connects refused per client address per window (an unknown namespace, a missing or invalid
    # token, the connect budget); past it, new transports from that address are refused at once.
    hub_connect_refusals_per_address: PositiveInt = 100
    # How many of those a connect to an unknown namespace counts as (a misconfigured or hostile
    # client; a bad token, which many users behind one address may send, counts 1).
    hub_unknown_namespace_refusal_weight: PositiveInt = 10
    # Events of one user running at once in a process (over all their sockets); more wait.
    hub_events_running_per_user: PositiveInt = 2
    # Joins reading the database at once in a process, together in one unit of work on one
    # connection (``hub.joining``); more wait for the next batch, so a reconnect storm (every
    # client rejoining every room) leaves database connections to the sends. Unset: see
    # ``joins_per_batch``.
    hub_joins_running: PositiveInt | None = None

    # Message search (GET /v1/v1/chat-messages with filters): bounds on its filter values, searches
    # of one user at once (per process), searches at once per process on connections of their own,
    # and the time after which a search is stopped.
    search_max_values_per_filter: PositiveInt = 20
    search_max_values: PositiveInt = 40
    search_max_value_length: PositiveInt = 200
    searches_per_user: PositiveInt = 2
    # Search time of one user, per process: a bucket of ``search_burst_seconds`` refilled at
    # ``search_seconds_per_user_per_minute``; a user whose bucket is empty gets 429 until it refills.
    search_seconds_per_user_per_minute: PositiveFloat = 10.0
    search_burst_seconds: PositiveFloat = 2.0
    search_connections: PositiveInt = 1
    # The share of the time each search connection may be busy: after a search of t seconds it
    # rests t * (1 / share - 1) before the next, so searches one after the other leave the
    # database that much of a core for everything else (1: no rest).
    search_busy_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    # A refused search (429) is answered after a random pause of 0 to this many ms, so that
    # searches refused together come back spread out instead of in one burst (0: at once).
    search_refusal_pause_ms: Annotated[int, Field(ge=0, le=10_000)] = 500
    search_timeout_ms: PositiveInt = 5_000

    # The web client: the folder of its build, served at /app/ (unset: webapp/dist of the source tree).
    webapp_dir: Path | None = None

    @field_validator("log_level", mode="before")
    @classmethod
    def _known_log_level(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().upper() in LOG_LEVELS:
            return value.strip().upper()
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")

    @model_validator(mode="after")
    def _check_keys(self) -> Self:
        if self.env is Environment.PRODUCTION:
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else None
            if secret and len(secret.encode()) < MIN_HS256_SECRET_BYTES:
                raise ValueError(
                    f"MESSAGING_JWT_SECRET must be at least {MIN_HS256_SECRET_BYTES} bytes in production"
                )
            if not secret and self.jwt_public_key_file is None:
                raise ValueError(
                    "MESSAGING_JWT_SECRET or MESSAGING_JWT_PUBLIC_KEY_FILE is required in production"
                )
            if secret == DEV_JWT_SECRET:
                raise ValueError("the built-in development JWT secret is refused in production")
        if self.jwt_public_key_file is not None and not self.jwt_public_key_file.is_file():
            raise ValueError(f"MESSAGING_JWT_PUBLIC_KEY_FILE does not exist: {self.jwt_public_key_file}")
        if self.session_store is SessionStore.REDIS and not self.redis_url:
            raise ValueError("MESSAGING_SESSION_STORE=redis needs MESSAGING_REDIS_URL")
        self._check_webhooks()
        if not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "MESSAGING_DATABASE_URL must be sqlite+aiosqlite://... or postgresql+asyncpg://..."
            )
        return self

    def _check_webhooks(self) -> None:
        from tutorhub_messaging.outbox.events import EVENT_TYPES

        for url in self.webhook_urls:
            if not re.match(r"^https?://[^\s/]+", url) or len(url) > 2048:
                raise ValueError(f"MESSAGING_WEBHOOK_URLS: not an http(s) URL: {url[:100]}")
        if len(set(self.webhook_urls)) != len(self.webhook_urls):
            raise ValueError("MESSAGING_WEBHOOK_URLS: a URL is listed twice")
        if self.webhook_urls and not (self.webhook_secret and self.webhook_secret.get_secret_value()):
            raise ValueError("MESSAGING_WEBHOOK_SECRET is required when MESSAGING_WEBHOOK_URLS is set")
        unknown = set(self.webhook_events or ()) - set(EVENT_TYPES)
        if unknown:
            raise ValueError(f"MESSAGING_WEBHOOK_EVENTS: unknown event types {sorted(unknown)}")
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            raise ValueError("MESSAGING_WEBHOOK_LEASE_SECONDS must exceed MESSAGING_WEBHOOK_TIMEOUT_SECONDS")

    @property
    def hs256_secret(self) -> str | None:
        """The HS256 key: the configured one, or the dev key in development."""
        if self.jwt_secret is not None and self.jwt_secret.get_secret_value():
            return self.jwt_secret.get_secret_value()
        if self.env is Environment.DEVELOPMENT:
            return DEV_JWT_SECRET
        return None

    @property
    def short_secret(self) -> bool:
        """A configured HS256 key below the safe length (refused in production, warned about here)."""
        secret = self.hs256_secret
        return secret is not None and len(secret.encode()) < MIN_HS256_SECRET_BYTES

    @property
    def uses_dev_secret(self) -> bool:
        return self.hs256_secret == DEV_JWT_SECRET

    @property
    def joins_per_batch(self) -> int:
        """``MESSAGING_HUB_JOINS_RUNNING``, or by default 50 on SQLite and 10 on PostgreSQL.

        On SQLite, batches of 10 made a reconnect storm's joins queue: with 5,000 clients back at
        once a socket waited ~13 s after reconnecting for its rooms, 0.3 s with batches of 50, for
        the same storm as a whole. On PostgreSQL + Redis larger batches showed no gain, and
        batches of 200 published presence in bursts that ran out of publishing connections."""
        if self.hub_joins_running is not None:
            return self.hub_joins_running
        return SQLITE_JOINS_PER_BATCH if self.is_sqlite else JOINS_PER_BATCH

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class SettingsError(Exception):
    """A configuration problem, reported as one line at start."""


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        field = f"MESSAGING_{where.upper()}: " if where else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"invalid configuration: {field}{message}") from None
    except EnvironmentReadError as exc:
        # A list-valued variable (e.g. MESSAGING_CORS_ORIGINS) that is not JSON fails while read.
        named = re.search(r'field "([^"]+)"', str(exc))
        field = f"MESSAGING_{named.group(1).upper()}: " if named else ""
        raise SettingsError(f"invalid configuration: {field}expected a JSON value") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
