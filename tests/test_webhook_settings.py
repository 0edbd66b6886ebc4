"""Webhook settings: read from the environment, refused at start with one line when wrong."""

from __future__ import annotations

import os

import pytest

from tests.test_settings import refused
from tutorhub_messaging.settings import load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MESSAGING_"):
            monkeypatch.delenv(name)


def test_webhooks_are_off_by_default_with_the_documented_budgets() -> None:
    settings = load_settings()
    assert settings.webhook_urls == []
    assert settings.webhook_events is None
    assert settings.webhook_timeout_seconds == 5.0
    assert settings.webhook_retry_budget_seconds == 86_400.0
    assert settings.outbox_retention_seconds == 604_800.0


def test_webhook_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSAGING_WEBHOOK_URLS", '["https://hooks.example.test/a", "http://10.0.0.2:8080/b"]')
    monkeypatch.setenv("MESSAGING_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv("MESSAGING_WEBHOOK_EVENTS", '["chatMessage.created"]')
    settings = load_settings()
    assert settings.webhook_urls == ["https://hooks.example.test/a", "http://10.0.0.2:8080/b"]
    assert settings.webhook_events == ["chatMessage.created"]


def test_webhook_urls_need_a_secret() -> None:
    message = refused(webhook_urls=["https://hooks.example.test/a"])
    assert "MESSAGING_WEBHOOK_SECRET" in message


def test_webhook_urls_must_be_http_urls_listed_once() -> None:
    assert "not an http(s) URL" in refused(webhook_urls=["ftp://x"], webhook_secret="s")
    assert "listed twice" in refused(webhook_urls=["http://a/x", "http://a/x"], webhook_secret="s")


def test_unknown_event_types_are_refused() -> None:
    assert "messageSent" in refused(webhook_events=["messageSent"])


def test_a_lease_shorter_than_the_timeout_is_refused() -> None:
    message = refused(webhook_timeout_seconds=10, webhook_lease_seconds=5)
    assert "MESSAGING_WEBHOOK_LEASE_SECONDS" in message


def test_a_webhook_list_that_is_not_json_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESSAGING_WEBHOOK_URLS", "https://hooks.example.test/a")
    assert "MESSAGING_WEBHOOK_URLS" in refused()
