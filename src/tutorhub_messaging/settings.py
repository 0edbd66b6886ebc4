"""Typed service settings, read from ``MESSAGING_*`` environment variables and validated at start."""

from __future__ import annotations

import logging
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings import SettingsError as EnvironmentReadError

log = logging.getLogger(__name__)

# Used only when MESSAGING_ENV=development and no secret is configured; production refuses it.
DEV_JWT_SECRET = "tutorhub-messaging-development-secret-do-not-use-in-production"
DEFAULT_SYSTEM_ADMIN_ID = "00000000-0000-4000-8000-000000000001"

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
    # Deliveries in flight per endpoint and process (at most one per room).
    webhook_concurrency: PositiveInt = 32
    # How often each process looks for due deliveries besides being woken by its own commits.
    webhook_poll_seconds: PositiveFloat = 1.0
    # Rounds of one endpoint's loop are at least this far apart (claims and settles are batched).
    webhook_batch_seconds: PositiveFloat = 0.05
    # A process holds a delivery this long; after it, a killed process's deliveries go to another.
    webhook_lease_seconds: PositiveFloat = 30.0
    # Delivered events (and events with no webhook to deliver to) are deleted after this.
    outbox_retention_seconds: PositiveFloat = 604_800.0

    @model_validator(mode="after")
    def _check_keys(self) -> Self:
        if self.env is Environment.PRODUCTION:
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else None
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
    def uses_dev_secret(self) -> bool:
        return self.hs256_secret == DEV_JWT_SECRET

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
