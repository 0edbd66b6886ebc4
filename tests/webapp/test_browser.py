"""The web client in Debian's Chromium, driven by playwright-core from webapp/'s lock file.

The client is built from its current sources into a temporary folder and served by a real
``tutorhub-messaging serve`` on a seeded demo database. ``webapp/tests/browser.test.mjs`` runs
its scenarios under node's test runner; when it asks (``@@stop``, ``@@start``, ``@@short-token``,
``@@long-history``
on stderr) this harness stops the service, stores messages while it is down and starts it again
on the same port, or mints a token that expires while the service is down.

With ``WEBAPP_SCREENSHOTS_DIR`` set, the screenshots of the run are written there
(``WEBAPP_SCREENSHOTS_DIR=docs/screenshots ./scripts/test tests/webapp``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.compat.test_js_client import summary_counts
from tests.support.databases import throwaway_database
from tests.support.processes import ServiceProcess
from tests.support.users import TEST_SECRET
from tutorhub_messaging.db.database import Database
from tutorhub_messaging.db.migrate import upgrade
from tutorhub_messaging.demo.seed import Seeded, seed_demo
from tutorhub_messaging.demo.users import STUDENT, TUTOR, admin_of
from tutorhub_messaging.hub.chat import CHAT_HUB
from tutorhub_messaging.identity.tokens import mint_user_token
from tutorhub_messaging.messages.service import MessageRules, NewMessage, Sender, store_message
from tutorhub_messaging.realtime import SilentNotifier
from tutorhub_messaging.settings import Settings, load_settings

WEBAPP_DIR = Path(__file__).resolve().parents[2] / "webapp"
SUITE = WEBAPP_DIR / "tests" / "browser.test.mjs"
CHROMIUM = os.environ.get("WEBAPP_CHROMIUM", "/usr/bin/chromium")
SUITE_TIMEOUT_SECONDS = 420
SHORT_TOKEN_TTL_SECONDS = 20
LONG_HISTORY = 70  # more than one page of history on join (50)


def _require_toolchain() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the browser suite needs Node.js 20.19 or newer", pytrace=False)
    if not (WEBAPP_DIR / "node_modules" / "playwright-core").is_dir():
        pytest.fail(
            "webapp/node_modules is missing: run `npm ci --prefix webapp` (./scripts/test does it)",
            pytrace=False,
        )
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}: `apt-get install chromium` (.ci/run does it)",
            pytrace=False,
        )
    return node


@pytest.fixture(scope="module")
def built_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The web client built from its current sources (never a stale webapp/dist)."""
    node = _require_toolchain()
    out = tmp_path_factory.mktemp("webapp-dist")
    build = subprocess.run(
        [
            node,
            "node_modules/vite/bin/vite.js",
            "build",
            "--outDir",
            str(out),
            "--emptyOutDir",
            "--logLevel",
            "warn",
        ],
        cwd=WEBAPP_DIR,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if build.returncode != 0 or not (out / "index.html").is_file():
        pytest.fail(f"the web client did not build:\n{build.stdout}\n{build.stderr}", pytrace=False)
    return out


async def _seed(settings: Settings) -> Seeded:
    db = Database(settings.database_url)
    try:
        async with db.unit_of_work() as uow:
            return await seed_demo(uow, settings)
    finally:
        await db.dispose()


async def _store_while_down(settings: Settings, room_id: str) -> list[str]:
    """Two messages from the tutor, stored while no service runs: nobody was told of them."""
    texts = ["While you were away (1 of 2)", "While you were away (2 of 2)"]
    db = Database(settings.database_url)
    try:
        async with db.unit_of_work() as uow:
            for text in texts:
                await store_message(
                    uow,
                    SilentNotifier(),
                    MessageRules(CHAT_HUB, settings.max_message_bytes),
                    room_id=room_id,
                    sender=Sender(TUTOR.id, TUTOR.fullname, TUTOR.avatar),
                    new=NewMessage(message_type="text", content={"body": text}),
                )
    finally:
        await db.dispose()
    return texts


async def _store_many(settings: Settings, room_id: str, sender: Sender, count: int) -> None:
    db = Database(settings.database_url)
    try:
        async with db.unit_of_work() as uow:
            for number in range(1, count + 1):
                await store_message(
                    uow,
                    SilentNotifier(),
                    MessageRules(CHAT_HUB, settings.max_message_bytes),
                    room_id=room_id,
                    sender=sender,
                    new=NewMessage(message_type="text", content={"body": f"Notice {number} of {count}"}),
                )
    finally:
        await db.dispose()


class Harness:
    """Answers the suite's requests on its stdin."""

    def __init__(self, settings: Settings, env: dict[str, str], seeded: Seeded) -> None:
        self.settings = settings
        self.env = env
        self.rooms = seeded.rooms
        self.service = ServiceProcess(env)
        self.short_token_expires = 0.0

    async def answer(self, command: str) -> str:
        if command == "short-token":
            self.short_token_expires = time.time() + SHORT_TOKEN_TTL_SECONDS
            return mint_user_token(
                TEST_SECRET,
                user_id=STUDENT.id,
                role="student",
                fullname=STUDENT.fullname,
                ttl_seconds=SHORT_TOKEN_TTL_SECONDS,
            )
        if command == "stop":
            self.service.kill()  # as a crash: no goodbye to any socket
            return "stopped"
        if command == "start":
            gap = await _store_while_down(self.settings, self.rooms["studentTutor"])
            # The short token has expired by the time the pages reconnect.
            await asyncio.sleep(max(0.0, self.short_token_expires + 1 - time.time()))
            self.service = ServiceProcess(self.env, port=self.service.port)
            await self.service.start()
            return json.dumps(gap)
        if command == "long-history":
            admin = admin_of(self.settings)
            sender = Sender(admin.id, admin.fullname, admin.avatar)
            await _store_many(self.settings, self.rooms["adminStudent"], sender, LONG_HISTORY)
            return str(LONG_HISTORY)
        raise AssertionError(f"the browser suite asked for an unknown command: {command}")


async def _run_suite(node: str, harness: Harness, shots_dir: Path) -> tuple[int | None, str]:
    await harness.service.start()
    env = {
        **os.environ,
        "WEBAPP_BASE_URL": harness.service.url,
        "WEBAPP_SHOTS_DIR": str(shots_dir),
        "WEBAPP_CHROMIUM": CHROMIUM,
        "NO_COLOR": "1",
    }
    process = await asyncio.create_subprocess_exec(
        node,
        "--test-reporter=spec",
        str(SUITE.relative_to(WEBAPP_DIR)),
        cwd=WEBAPP_DIR,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    stderr_lines: list[str] = []

    async def serve_requests() -> None:
        assert process.stderr is not None and process.stdin is not None
        async for raw in process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            if line.startswith("@@"):
                process.stdin.write(((await harness.answer(line[2:].strip())) + "\n").encode())
                await process.stdin.drain()
            else:
                stderr_lines.append(line)

    try:
        stdout, _ = await asyncio.wait_for(
            asyncio.gather(process.stdout.read(), serve_requests()), timeout=SUITE_TIMEOUT_SECONDS
        )
        await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
        return None, "\n".join(stderr_lines) + f"\n(did not finish in {SUITE_TIMEOUT_SECONDS} s)"
    finally:
        harness.service.stop()
    return process.returncode, stdout.decode(errors="replace") + "\n".join(stderr_lines)


def test_the_web_client_in_chromium(tmp_path: Path, built_client: Path) -> None:
    node = _require_toolchain()
    shots_dir = Path(os.environ.get("WEBAPP_SCREENSHOTS_DIR") or tmp_path / "screenshots").resolve()
    with throwaway_database(tmp_path, "webapp") as url:
        upgrade(url)
        settings = load_settings(database_url=url, jwt_secret=TEST_SECRET)
        seeded = asyncio.run(_seed(settings))
        env = {
            "MESSAGING_DATABASE_URL": url,
            "MESSAGING_ENV": "development",
            "MESSAGING_WEBAPP_DIR": str(built_client),
        }
        harness = Harness(settings, env, seeded)
        returncode, output = asyncio.run(_run_suite(node, harness, shots_dir))
    counts = summary_counts(output)
    passed = (
        returncode == 0
        and counts.get("tests", 0) > 0
        and counts.get("pass") == counts.get("tests")
        and not any(counts.get(name, 0) for name in ("fail", "cancelled", "skipped", "todo"))
    )
    if not passed:
        pytest.fail(f"the browser suite exited {returncode} with {counts}:\n{output}", pytrace=False)
    for name in ("inbox", "conversation", "admin"):
        for width in ("desktop", "phone"):
            assert (shots_dir / f"{name}-{width}.png").is_file(), f"{name}-{width}.png was not taken"
