"""``serve`` as an operator meets it: each configuration error is one line with its exit status and
nothing claims to have started; a good start says in one line what runs; logs never block."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.support.live import free_port
from tests.support.users import TEST_SECRET, User
from tutorhub_messaging import __version__
from tutorhub_messaging.serving import startup_fields
from tutorhub_messaging.settings import load_settings

CLI = str(Path(sys.executable).with_name("tutorhub-messaging"))


def environment(tmp_path: Path, **extra: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MESSAGING_")}
    return {
        **clean,
        "MESSAGING_JWT_SECRET": TEST_SECRET,
        "MESSAGING_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'service.db'}",
        **extra,
    }


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        env=environment(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_failure(result: subprocess.CompletedProcess[str], status: int, *phrases: str) -> None:
    assert result.returncode == status, result.stderr
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("tutorhub-messaging")
    for phrase in phrases:
        assert phrase in result.stderr
    for never in ("Traceback", "started", "listening", "Uvicorn running", "startup complete", "sqlalche.me"):
        assert never not in result.stderr


def test_an_unknown_log_level_is_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", "--port", str(free_port()), MESSAGING_LOG_LEVEL="LOUD")
    assert_one_line_failure(result, 2, "MESSAGING_LOG_LEVEL", "DEBUG, INFO, WARNING, ERROR, CRITICAL")


def test_a_port_out_of_range_is_refused_before_anything_runs(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", "--port", "70000")
    assert_one_line_failure(result, 2, "70000 is not a TCP port")
    assert not (tmp_path / "service.db").exists()


def test_a_busy_port_is_one_line_before_migrations_or_startup(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(tmp_path, "serve", "--port", str(port))
    assert_one_line_failure(result, 1, f"cannot listen on http://127.0.0.1:{port}", "Address already in use")
    assert not (tmp_path / "service.db").exists(), "nothing is migrated for a service that cannot listen"


def test_serve_binds_its_port_before_it_reads_its_settings(tmp_path: Path) -> None:
    """The port is taken first: with a busy port and a bad setting, the port is what fails (the
    settings, the web framework and the database layer come after the bind)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(tmp_path, "serve", "--port", str(port), MESSAGING_LOG_LEVEL="LOUD")
    assert_one_line_failure(result, 1, f"cannot listen on http://127.0.0.1:{port}")


def test_the_command_line_imports_nothing_heavy_before_it_binds() -> None:
    """What ``serve`` imports before binding its port: not pydantic, the web framework, the
    database layer or Socket.IO, which take about half a second to import on a slow machine,
    during which a client reconnecting after a restart would be refused and back off."""
    probe = (
        "import sys, tutorhub_messaging.cli\n"
        "heavy = ('pydantic', 'fastapi', 'starlette', 'sqlalchemy', 'socketio', 'uvicorn', 'redis')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_an_sqlite_file_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'x.db'}"
    result = run_cli(tmp_path, "serve", "--port", str(free_port()), MESSAGING_DATABASE_URL=url)
    assert_one_line_failure(result, 1, "cannot open the SQLite database", "unable to open database file")


def test_an_unreachable_postgresql_is_one_line_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://postgres:hunter2@127.0.0.1:{free_port()}/nothing"
    result = run_cli(tmp_path, "migrate", MESSAGING_DATABASE_URL=url)
    assert_one_line_failure(result, 1, "migration failed on postgresql+asyncpg://postgres:***@127.0.0.1")
    assert "hunter2" not in result.stderr


def test_a_short_jwt_secret_is_refused_in_production(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", MESSAGING_ENV="production", MESSAGING_JWT_SECRET="too-short")
    assert_one_line_failure(result, 2, "MESSAGING_JWT_SECRET must be at least 32 bytes in production")


def test_a_short_jwt_secret_in_development_is_our_own_one_line_warning(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "token", MESSAGING_JWT_SECRET="too-short")
    assert result.returncode == 0, result.stderr
    assert result.stderr == (
        "tutorhub-messaging: warning: MESSAGING_JWT_SECRET is shorter than 32 bytes, "
        "which production refuses\n"
    )
    assert result.stdout.count(".") == 2  # the token itself


def test_startup_fields_never_show_passwords() -> None:
    settings = load_settings(
        database_url="postgresql+asyncpg://app:s3cret@db.internal:5432/messaging",
        redis_url="redis://:r3dis-pass@cache.internal:6379/0",
        jwt_secret=TEST_SECRET,
    )
    fields = startup_fields(settings, url="http://0.0.0.0:3000", migrations="applied up to 0002", workers=1)
    assert fields["database"] == "postgresql+asyncpg://app:***@db.internal:5432/messaging"
    assert fields["fanOut"] == "redis://:***@cache.internal:6379/0"
    assert "s3cret" not in str(fields) and "r3dis-pass" not in str(fields)


async def wait_until_healthy(url: str, process: subprocess.Popen[Any]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(400):
            assert process.poll() is None, "the service exited"
            try:
                if (await client.get(url + "/health", timeout=1)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError("the service did not answer /health")


def stop(process: subprocess.Popen[Any]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


async def test_start_is_one_line_saying_what_runs(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "stderr.log"
    prefix = f"thm-test-{uuid.uuid4().hex[:8]}:"
    env = environment(tmp_path, MESSAGING_REDIS_URL="redis://127.0.0.1:6379/0", MESSAGING_REDIS_PREFIX=prefix)
    with log_file.open("wb") as err:
        process = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
            [CLI, "serve", "--port", str(port)], env=env, stdout=err, stderr=err
        )
        try:
            await wait_until_healthy(f"http://127.0.0.1:{port}", process)
        finally:
            stop(process)
    assert process.returncode in (0, -signal.SIGTERM)
    lines = [orjson.loads(line) for line in log_file.read_text().splitlines()]
    started = [line for line in lines if line.get("event") == "started"]
    assert len(started) == 1, lines
    [line] = started
    assert line["level"] == "info"
    assert line["version"] == __version__
    assert line["listen"] == f"http://127.0.0.1:{port}"
    assert line["database"] == env["MESSAGING_DATABASE_URL"]
    assert line["migrations"].startswith("applied up to ")
    assert line["fanOut"] == "redis://127.0.0.1:6379/0"
    assert "/hub/chat" in line["hubNamespaces"]
    assert f"listening on http://127.0.0.1:{port}" in line["message"]
    assert lines[-1]["event"] == "stopped"
    # Ordinary news is not logged under a library's error logger, nor as uvicorn's own lines.
    assert not [entry for entry in lines if entry["logger"] == "uvicorn.error"]
    assert not [entry for entry in lines if "Application startup complete" in entry["message"]]


async def test_a_log_reader_that_stops_reading_does_not_stop_the_service(tmp_path: Path) -> None:
    """stderr is a pipe nobody reads: it fills after a few hundred lines, yet every request is
    answered, and the lines that did not fit are counted in /metrics."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = environment(tmp_path, MESSAGING_LOG_QUEUE_LINES="50")
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
        [CLI, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        await wait_until_healthy(url, process)
        headers = {"Authorization": f"Bearer {User('student').token}"}
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            statuses = [
                (await client.get("/v1/myconversations", headers=headers)).status_code for _ in range(1500)
            ]
            metrics = (await client.get("/metrics")).text
    finally:
        stop(process)
        assert process.stderr is not None
        process.stderr.close()
    assert statuses == [200] * 1500
    [dropped] = [
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("messaging_log_lines_dropped_total")
    ]
    assert dropped > 0


async def test_a_client_connecting_during_the_start_waits_and_is_answered(tmp_path: Path) -> None:
    """The port listens from the moment it is bound: a request made while the service is still
    starting (here: held at the migration lock, which this test takes first) is queued by the
    kernel and answered once the service is up, instead of being refused."""
    import fcntl

    port = free_port()
    lock = (tmp_path / "service.db.migrate-lock").open("a+b")
    fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
    process = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
        [CLI, "serve", "--port", str(port)],
        env=environment(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        connected = None
        for _ in range(600):
            assert process.poll() is None, "the service exited"
            try:
                connected = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except ConnectionRefusedError:
                await asyncio.sleep(0.05)
        assert connected is not None, "nothing accepted a connection while the service was starting"
        with connected:
            connected.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert not (tmp_path / "service.db").exists(), "the start is still held before migrations"
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)  # let the migrations, then the service, run
            connected.settimeout(60)
            answer = b""
            while chunk := await asyncio.to_thread(connected.recv, 65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200 "), answer[:200]
    finally:
        lock.close()
        stop(process)
