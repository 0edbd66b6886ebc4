"""The official JavaScript client (``socket.io-client`` from npm) against the real service.

Each file of ``compat/tests/`` runs under ``node --test`` against the app served by uvicorn on a
loopback port, with users, tokens and rooms seeded here and handed over in ``COMPAT_FIXTURE``.
A file is one pytest case, so a failing flow is named in the pytest summary; node's own report is
shown when it fails.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from tests.support.users import TEST_SECRET, User, service_token
from tutorhub_messaging.db.models import CONVERSATION_STATUSES, CONVERSATION_TYPES, Conversation
from tutorhub_messaging.identity.tokens import EXPIRY_LEEWAY_SECONDS, mint_user_token

COMPAT_DIR = Path(__file__).resolve().parents[2] / "compat"
JS_TEST_FILES = sorted((COMPAT_DIR / "tests").glob("*.test.js"))
# Every JS test claims its own scenario (own users and rooms); more than any file uses.
SCENARIOS_PER_FILE = 40
NODE_TIMEOUT_SECONDS = 300
EXPIRING_AFTER = 8
SUMMARY_LINE = re.compile(r"^\S*\s*(tests|pass|fail|cancelled|skipped|todo) (\d+)\s*$", re.MULTILINE)


@dataclass
class Scenario:
    student: User
    tutor: User
    admin: User
    super_admin: User
    stranger: User
    rooms: dict[str, str]


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "token": user.token, "fullname": user.fullname, "avatar": user.avatar}


def _conversation(kind: str, participant_a: User, participant_b: User) -> Conversation:
    return Conversation(
        id=str(uuid.uuid4()),
        conversation_type=kind,
        conversation_type_idx=CONVERSATION_TYPES.index(kind),
        participant_a=participant_a.id,
        participant_b=participant_b.id,
        participant_a_name=participant_a.fullname,
        participant_b_name=participant_b.fullname,
        status="active",
        status_idx=CONVERSATION_STATUSES.index("active"),
    )


async def seed_scenarios(app: Any, count: int) -> list[Scenario]:
    scenarios: list[Scenario] = []
    async with app.context.db.unit_of_work() as uow:
        for _ in range(count):
            student, tutor, admin = User("student"), User("tutor"), User("admin")
            conversations = {
                "studentTutor": _conversation("studentTutor", student, tutor),
                "adminStudent": _conversation("adminStudent", admin, student),
                "adminTutor": _conversation("adminTutor", admin, tutor),
            }
            uow.session.add_all(conversations.values())
            scenarios.append(
                Scenario(
                    student=student,
                    tutor=tutor,
                    admin=admin,
                    super_admin=User("superAdmin"),
                    stranger=User("student", fullname="Stranger"),
                    rooms={kind: c.id for kind, c in conversations.items()},
                )
            )
    return scenarios


def fixture_json(base_url: str, scenarios: list[Scenario]) -> str:
    forged = jwt.encode(
        {"userId": str(uuid.uuid4()), "roleId": "student", "exp": 4_102_444_800},
        "a-different-secret-than-the-service-uses",
        algorithm="HS256",
    )
    expired = jwt.encode(
        {"userId": str(uuid.uuid4()), "roleId": "student", "exp": 1_000_000_000},
        TEST_SECRET,
        algorithm="HS256",
    )
    return json.dumps(
        {
            "baseUrl": base_url,
            "tokens": {"forged": forged, "expired": expired, "service": service_token()},
            # The first scenario's student again, with a token the service stops accepting (and
            # closes the student's sockets with) EXPIRING_AFTER seconds after seeding.
            "expiring": {
                "userId": scenarios[0].student.id,
                "token": mint_user_token(
                    TEST_SECRET,
                    user_id=scenarios[0].student.id,
                    role="student",
                    fullname=scenarios[0].student.fullname,
                    ttl_seconds=EXPIRING_AFTER - EXPIRY_LEEWAY_SECONDS,
                ),
            },
            "scenarios": [
                {
                    "student": _user_json(s.student),
                    "tutor": _user_json(s.tutor),
                    "admin": _user_json(s.admin),
                    "superAdmin": _user_json(s.super_admin),
                    "stranger": _user_json(s.stranger),
                    "rooms": s.rooms,
                }
                for s in scenarios
            ],
        }
    )


def require_node_toolchain() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is not installed: the compatibility suite needs Node.js 20 or newer", pytrace=False)
    if not (COMPAT_DIR / "node_modules" / "socket.io-client").is_dir():
        pytest.fail(
            "compat/node_modules is missing: run `npm ci --prefix compat` (./scripts/test does it)",
            pytrace=False,
        )
    return node


def summary_counts(output: str) -> dict[str, int]:
    """The closing counts of node's spec reporter (its `tests 5`, `pass 5`, ... lines)."""
    return {name: int(value) for name, value in SUMMARY_LINE.findall(output)}


def test_the_compatibility_suite_has_test_files() -> None:
    assert JS_TEST_FILES, f"no *.test.js under {COMPAT_DIR / 'tests'}"


@pytest.mark.parametrize("js_file", JS_TEST_FILES, ids=lambda p: p.name.removesuffix(".test.js"))
async def test_js_client(js_file: Path, app: Any, server_url: str) -> None:
    node = require_node_toolchain()
    scenarios = await seed_scenarios(app, SCENARIOS_PER_FILE)
    env = {**os.environ, "COMPAT_FIXTURE": fixture_json(server_url, scenarios), "NO_COLOR": "1"}
    process = await asyncio.create_subprocess_exec(
        node,
        "--test",
        # A polling client that disconnects leaves its last long-poll GET open until the server's
        # ping timeout (45 s); ending node once the tests are done keeps the run from waiting on it.
        "--test-force-exit",
        "--test-reporter=spec",
        str(js_file.relative_to(COMPAT_DIR)),
        cwd=COMPAT_DIR,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        raw, _ = await asyncio.wait_for(process.communicate(), timeout=NODE_TIMEOUT_SECONDS)
    except TimeoutError:
        process.kill()
        raw, _ = await process.communicate()
        pytest.fail(
            f"node --test {js_file.name} did not finish in {NODE_TIMEOUT_SECONDS} s:\n{raw.decode()}",
            pytrace=False,
        )
    output = raw.decode(errors="replace")
    counts = summary_counts(output)
    passed = (
        process.returncode == 0
        and counts.get("tests", 0) > 0
        and counts.get("pass") == counts.get("tests")
        and not any(counts.get(name, 0) for name in ("fail", "cancelled", "skipped", "todo"))
    )
    if not passed:
        pytest.fail(
            f"node --test {js_file.name} exited {process.returncode} with {counts}:\n{output}",
            pytrace=False,
        )
