"""Settings: read from MESSAGING_* variables, validated at start, one line when something is wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tutorhub_messaging.settings import (
    DEV_JWT_SECRET,
    Environment,
    SessionStore,
    SettingsError,
    load_settings,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from no MESSAGING_* variables at all."""
    for name in list(os.environ):
        if name.startswith("MESSAGING_"):
            monkeypatch.delenv(name)


def refused(**values: object) -> str:
    with pytest.raises(SettingsError) as caught:
        load_settings(**values)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("invalid configuration: ")
    return message


def test_defaults_are_the_guides_guardrails() -> None:
    settings = load_settings()
    assert settings.env is Environment.DEVELOPMENT
    assert settings.session_store is SessionStore.TOKEN
    assert (
        settings.max_users_per_room,
        settings.max_rooms_per_user,
        settings.message_rate_per_minute,
        settings.max_message_bytes,
        settings.connect_timeout_ms,
        settings.history_on_join,
    ) == (10, 100, 30, 65_536, 300_000, 50)
    assert settings.database_url.startswith("sqlite+aiosqlite://")


def test_development_falls_back_to_the_dev_key() -> None:
    settings = load_settings()
    assert settings.hs256_secret == DEV_JWT_SECRET
    assert settings.uses_dev_secret


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSAGING_MAX_USERS_PER_ROOM", "12")
    monkeypatch.setenv("MESSAGING_JWT_SECRET", "configured-secret-0123456789abcdef")
    monkeypatch.setenv("MESSAGING_DATABASE_URL", "postgresql+asyncpg://u@db:5432/messaging")
    settings = load_settings()
    assert settings.max_users_per_room == 12
    assert settings.hs256_secret == "configured-secret-0123456789abcdef"
    assert not settings.uses_dev_secret
    assert not settings.is_sqlite


def test_production_refuses_a_missing_key() -> None:
    assert "MESSAGING_JWT_SECRET" in refused(env="production")


def test_production_refuses_an_empty_key() -> None:
    assert "MESSAGING_JWT_SECRET" in refused(env="production", jwt_secret="")


def test_production_refuses_the_dev_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSAGING_ENV", "production")
    monkeypatch.setenv("MESSAGING_JWT_SECRET", DEV_JWT_SECRET)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "development JWT secret" in str(caught.value)
    assert DEV_JWT_SECRET not in str(caught.value)


def test_production_accepts_a_real_key() -> None:
    settings = load_settings(env="production", jwt_secret="a-real-production-secret-0123456789")
    assert settings.hs256_secret == "a-real-production-secret-0123456789"


def test_production_accepts_a_public_key_alone(tmp_path: Path) -> None:
    key_file = tmp_path / "public.pem"
    key_file.write_text("-----BEGIN PUBLIC KEY-----\n...\n-----END PUBLIC KEY-----\n")
    settings = load_settings(env="production", jwt_public_key_file=key_file)
    assert settings.hs256_secret is None  # no HS256 at all, not the dev key


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MESSAGING_MAX_USERS_PER_ROOM", "abc"),
        ("MESSAGING_MAX_USERS_PER_ROOM", "0"),
        ("MESSAGING_MESSAGE_RATE_PER_MINUTE", "-5"),
        ("MESSAGING_ENV", "staging"),
        ("MESSAGING_SESSION_STORE", "memcached"),
        ("MESSAGING_DATABASE_URL", "mysql://root@localhost/db"),
        ("MESSAGING_CORS_ORIGINS", "not json ["),
    ],
)
def test_bad_values_are_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("invalid configuration")
    assert variable in message


def test_redis_sessions_need_a_redis_url() -> None:
    assert "MESSAGING_REDIS_URL" in refused(session_store="redis")


def test_a_missing_public_key_file_is_refused(tmp_path: Path) -> None:
    assert "does not exist" in refused(jwt_public_key_file=tmp_path / "absent.pem")


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.max_users_per_room = 3  # type: ignore[misc]


def test_joins_per_batch_depends_on_the_database_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite reads larger batches of joins (a reconnect storm's sockets get their rooms back
    # sooner); PostgreSQL keeps batches of 10; MESSAGING_HUB_JOINS_RUNNING overrides either.
    assert load_settings().joins_per_batch == 50
    postgres = "postgresql+asyncpg://user@db.example/messaging"
    assert load_settings(database_url=postgres).joins_per_batch == 10
    monkeypatch.setenv("MESSAGING_HUB_JOINS_RUNNING", "7")
    assert load_settings().joins_per_batch == 7
    assert load_settings(database_url=postgres).joins_per_batch == 7
    assert "MESSAGING_HUB_JOINS_RUNNING" in refused(hub_joins_running=0)
