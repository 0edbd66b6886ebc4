"""The command line: ``token`` prints usable tokens, ``migrate`` builds a database, bad config is one line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from alembic.script import ScriptDirectory

from tests.support.users import TEST_SECRET
from tutorhub_messaging.cli import main
from tutorhub_messaging.db.migrate import alembic_config
from tutorhub_messaging.identity.tokens import M2M_TOKEN_NAME

CLI = str(Path(sys.executable).with_name("tutorhub-messaging"))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MESSAGING_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MESSAGING_JWT_SECRET", TEST_SECRET)


def printed_token(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["token", *args])
    out = capsys.readouterr().out.strip()
    assert "\n" not in out
    return out


def test_user_token_carries_the_given_claims(capsys: pytest.CaptureFixture[str]) -> None:
    user_id = str(uuid.uuid4())
    token = printed_token(
        capsys,
        "--user-id", user_id,
        "--role", "tutor",
        "--fullname", "Ada Tutor",
        "--avatar", "https://cdn.example.test/ada.png",
        "--ttl", "120",
    )  # fmt: skip
    claims = jwt.decode(token, TEST_SECRET, algorithms=["HS256"])
    assert claims["userId"] == user_id
    assert claims["roleId"] == "tutor"
    assert claims["fullname"] == "Ada Tutor"
    assert claims["avatar"] == "https://cdn.example.test/ada.png"
    assert claims["exp"] - claims["iat"] == 120
    uuid.UUID(claims["sessionId"])


def test_user_token_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    claims = jwt.decode(printed_token(capsys), TEST_SECRET, algorithms=["HS256"])
    uuid.UUID(claims["userId"])
    assert claims["roleId"] == "student"
    assert claims["exp"] - claims["iat"] == 3600


def test_super_admin_token_with_ttl_zero_never_expires(capsys: pytest.CaptureFixture[str]) -> None:
    claims = jwt.decode(
        printed_token(capsys, "--role", "superAdmin", "--ttl", "0"), TEST_SECRET, algorithms=["HS256"]
    )
    assert "exp" not in claims
    assert claims["roleId"] == "superAdmin"


def test_service_token(capsys: pytest.CaptureFixture[str]) -> None:
    claims = jwt.decode(
        printed_token(capsys, "--m2m", "--service", "adminPanel"), TEST_SECRET, algorithms=["HS256"]
    )
    assert claims["tokenName"] == M2M_TOKEN_NAME
    assert claims["serviceName"] == "adminPanel"
    assert claims["exp"] > claims["iat"]


async def test_printed_tokens_are_accepted_by_the_service(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    user_id = str(uuid.uuid4())
    user_token = printed_token(capsys, "--user-id", user_id, "--role", "student")
    response = await client.get("/v1/myconversations", headers={"Authorization": f"Bearer {user_token}"})
    assert response.status_code == 200
    assert response.json()["userId"] == user_id
    service_token = printed_token(capsys, "--m2m", "--service", "userService")
    response = await client.put(
        f"/v1/m2m/users/{uuid.uuid4()}",
        headers={"Authorization": f"Bearer {service_token}"},
        json={"fullname": "From the CLI"},
    )
    assert response.status_code == 201


def test_m2m_without_service_name_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", "--m2m"])
    assert exited.value.code == 2
    assert "--service" in capsys.readouterr().err


def test_unknown_role_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["token", "--role", "janitor"])
    assert exited.value.code == 2
    assert capsys.readouterr().out == ""


def test_bad_configuration_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MESSAGING_ENV", "production")
    monkeypatch.delenv("MESSAGING_JWT_SECRET")
    with pytest.raises(SystemExit) as exited:
        main(["token"])
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("tutorhub-messaging: invalid configuration")


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MESSAGING_")}
    return subprocess.run(
        [CLI, *args], env={**clean, **env}, capture_output=True, text=True, timeout=120, check=False
    )


def test_migrate_builds_a_fresh_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    env = {"MESSAGING_DATABASE_URL": f"sqlite+aiosqlite:///{path}"}
    result = run_cli("migrate", env=env)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        [(version,)] = db.execute("SELECT version_num FROM alembic_version").fetchall()
    assert {
        "conversation",
        "chat_message",
        "chat_moderation",
        "directory_user",
        "enrollment",
        "read_state",
    } <= tables
    assert version == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()

    again = run_cli("migrate", env=env)  # already at head: nothing to do, still success
    assert again.returncode == 0, again.stderr


def test_migrate_with_a_bad_database_url_is_one_line(tmp_path: Path) -> None:
    result = run_cli("migrate", env={"MESSAGING_DATABASE_URL": "mysql://root@localhost/x"})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "MESSAGING_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_several_workers_needs_redis(tmp_path: Path) -> None:
    path = tmp_path / "workers.db"
    result = run_cli(
        "serve",
        "--workers",
        "2",
        "--port",
        "9",
        env={"MESSAGING_DATABASE_URL": f"sqlite+aiosqlite:///{path}"},
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "--workers 2 needs MESSAGING_REDIS_URL" in result.stderr
    assert not path.exists()  # refused before anything was migrated or served
