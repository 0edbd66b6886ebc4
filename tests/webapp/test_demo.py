"""The demo: seeded idempotently through the services, and its development-only sign-in route."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.users import TEST_SECRET
from tutorhub_messaging.cli import main
from tutorhub_messaging.demo.seed import Seeded, seed_demo
from tutorhub_messaging.demo.users import STUDENT, SUPER_ADMIN, TUTOR, admin_of


async def seed(app: Any) -> Seeded:
    async with app.context.db.unit_of_work() as uow:
        return await seed_demo(uow, app.context.settings)


async def demo_users(client: httpx.AsyncClient, path: str = "/dev/demo-users") -> dict[str, Any]:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def room_messages(client: httpx.AsyncClient, token: str, room_id: str) -> list[dict[str, Any]]:
    response = await client.get(
        f"/chat/{room_id}/messages?limit=100", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["data"]
    return messages


async def test_the_demo_route_hands_out_working_tokens_once_the_demo_is_seeded(
    app: Any, client: httpx.AsyncClient
) -> None:
    before = await demo_users(client)
    assert before["users"] == []
    assert "tutorhub-messaging demo" in before["hint"]

    await seed(app)
    body = await demo_users(client, "/messaging-api/dev/demo-users")
    users = {user["role"]: user for user in body["users"]}
    assert set(users) == {"student", "tutor", "admin", "superAdmin"}
    assert users["student"]["id"] == STUDENT.id
    assert users["admin"]["id"] == admin_of(app.context.settings).id

    inbox = await client.get(
        "/v1/myconversations", headers={"Authorization": f"Bearer {users['student']['token']}"}
    )
    assert inbox.status_code == 200
    conversations = inbox.json()["conversations"]
    assert [c["conversationType"] for c in conversations] == ["studentTutor", "adminStudent"]
    assert all(c["unreadCount"] > 0 for c in conversations)


@pytest.mark.parametrize("settings_overrides", [{"env": "production"}])
async def test_the_demo_route_does_not_exist_in_production(app: Any, client: httpx.AsyncClient) -> None:
    await seed(app)  # even with the demo users present
    for path in ("/dev/demo-users", "/messaging-api/dev/demo-users"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "token" not in response.text


async def test_seeding_twice_adds_nothing_and_covers_every_message_type(
    app: Any, client: httpx.AsyncClient
) -> None:
    first = await seed(app)
    second = await seed(app)
    assert first.rooms == second.rooms
    assert first.messages_added > 0
    assert second.messages_added == 0

    admin = admin_of(app.context.settings)
    tokens = {user["id"]: user["token"] for user in (await demo_users(client))["users"]}
    by_room = {
        kind: await room_messages(client, tokens[SUPER_ADMIN.id], room_id)
        for kind, room_id in first.rooms.items()
    }
    assert sum(len(messages) for messages in by_room.values()) == first.messages_added
    types = {kind: {m["messageType"] for m in messages} for kind, messages in by_room.items()}
    assert types["adminTutor"] == {"text", "image", "document", "system", "warning"}
    assert types["studentTutor"] == {"text", "image", "document", "system"}
    warnings = [m for messages in by_room.values() for m in messages if m["messageType"] == "warning"]
    severities = {m["content"]["severity"] for m in warnings}
    assert severities == {"info", "warning", "critical"}
    assert any(m["replyTo"] for m in by_room["studentTutor"])
    assert any(m["forwarded"] for m in by_room["studentTutor"])
    # The admin channels are the demo admin's, the enrollment's chat is the student's and tutor's.
    conversations = (
        await client.get("/v1/myconversations", headers={"Authorization": f"Bearer {tokens[admin.id]}"})
    ).json()["conversations"]
    assert {(c["conversationType"], c["participantB"]) for c in conversations} == {
        ("adminStudent", STUDENT.id),
        ("adminTutor", TUTOR.id),
    }


@pytest.fixture
def cli_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("MESSAGING_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MESSAGING_JWT_SECRET", TEST_SECRET)
    database = tmp_path / "demo.db"
    monkeypatch.setenv("MESSAGING_DATABASE_URL", f"sqlite+aiosqlite:///{database}")
    return database


def test_the_demo_command_seeds_and_can_run_again(
    cli_environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["demo"])
    assert "sample messages added" in capsys.readouterr().err
    main(["demo"])
    assert "demo ready: 0 sample messages added" in capsys.readouterr().err
    assert cli_environment.is_file()


def test_the_demo_command_refuses_production(
    cli_environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MESSAGING_ENV", "production")
    with pytest.raises(SystemExit) as exit_info:
        main(["demo"])
    assert exit_info.value.code == 2
    assert "development mode only" in capsys.readouterr().err
