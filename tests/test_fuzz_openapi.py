"""Schema-driven fuzzing of every REST route published in ``/openapi.json``.

Schemathesis reads the in-process app's OpenAPI document and generates requests for each
operation: valid ones (positive) and ones that break the schema (negative), as an admin, a
superAdmin and a student, and with a service token for the M2M-only routes. Some runs pin the
path parameters to seeded rooms and messages so requests reach real records. Every response must:

- never be a 5xx,
- use a status code the operation documents,
- carry the documented content type and match the documented response schema.

Examples per operation are few and generation is deterministic, so the run is bounded and
repeatable; each request has a timeout so a hanging route fails instead of stalling the suite.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.chat_rooms import create_room, store_text
from tests.support.users import User, service_token
from tutorhub_messaging.app import create_app
from tutorhub_messaging.settings import Settings, load_settings

EXAMPLES_PER_RUN = 8
REQUEST_TIMEOUT_SECONDS = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def is_m2m(path: str) -> bool:
    """The service-to-service routes (DECISIONS §2, §3, §5): they accept only service tokens."""
    return path.startswith("/v1/m2m/") or path == "/v1/sendsystemmessage"


@dataclass
class Seeded:
    """Records the runs can point path parameters at."""

    admin: User
    super_admin: User
    student: User
    tutor: User
    path_values: dict[str, str] = field(default_factory=dict)


async def seed(settings: Settings) -> Seeded:
    admin, student, tutor = User("admin"), User("student"), User("tutor")
    seeding_app = create_app(settings)
    try:
        room = await create_room(seeding_app, student, tutor)
        await create_room(seeding_app, admin, student, conversation_type="adminStudent")
        await create_room(seeding_app, student, User("tutor"), status="closed")
        first = await store_text(seeding_app, room, student, "first")
        second = await store_text(seeding_app, room, tutor, "second", reply_to=first["id"])
    finally:
        await seeding_app.context.db.dispose()
    seeded = Seeded(admin, User("superAdmin"), student, tutor)
    seeded.path_values = {
        "roomId": room,
        "conversationId": room,
        "id": second["id"],
        "messageId": first["id"],
        "userId": student.id,
        "enrollmentId": str(uuid.uuid4()),
    }
    return seeded


@pytest.fixture
def fuzz_settings(settings: Settings) -> Settings:
    # Enough message budget that sends keep reaching the store instead of the rate limit.
    return load_settings(**{**settings.model_dump(), "message_rate_per_minute": 100_000})


@pytest.fixture
def fuzz_app(fuzz_settings: Settings) -> Iterator[Any]:
    """An app driven only by Schemathesis's own event loop thread (the database engine binds
    its connections to the loop that first uses them); its lifespan disposes the engine."""
    application = create_app(fuzz_settings)
    yield application
    asgi.shutdown_lifespans()


@dataclass(frozen=True)
class Run:
    caller: str
    mode: GenerationMode
    pinned: bool  # path parameters pinned to seeded records


RUNS_FOR_USERS = (
    Run("admin", GenerationMode.POSITIVE, pinned=False),
    Run("admin", GenerationMode.NEGATIVE, pinned=False),
    Run("admin", GenerationMode.POSITIVE, pinned=True),
    Run("superAdmin", GenerationMode.POSITIVE, pinned=True),
    Run("student", GenerationMode.POSITIVE, pinned=True),
    Run("student", GenerationMode.NEGATIVE, pinned=True),
)
RUNS_FOR_SERVICES = (
    Run("service", GenerationMode.POSITIVE, pinned=False),
    Run("service", GenerationMode.NEGATIVE, pinned=False),
    Run("service", GenerationMode.POSITIVE, pinned=True),
)


def can_be_negated(operation: Any) -> bool:
    """Whether breaking the schema means anything: path parameters are free-form strings, so
    only a query parameter or a body can be made invalid."""
    return bool(operation.body) or bool(operation.query)


def fuzz_operation(operation: Any, run: Run, token: str, path_values: dict[str, str]) -> None:
    path_parameters = None
    if run.pinned:
        names = [p.name for p in operation.path_parameters]
        path_parameters = {name: path_values[name] for name in names if name in path_values} or None
    strategy = operation.as_strategy(generation_mode=run.mode, path_parameters=path_parameters)
    headers = {"Authorization": f"Bearer {token}"}

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_RUN,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def exercise(case: Any) -> None:
        response = case.call(headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
        case.validate_response(response, checks=CHECKS, headers=headers)

    exercise()


def describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in exc.exceptions)
    return str(exc)[:1500]


def test_every_route_survives_schema_driven_fuzzing(fuzz_settings: Settings, fuzz_app: Any) -> None:
    seeded = asyncio.run(seed(fuzz_settings))
    tokens: dict[str, Callable[[], str]] = {
        "admin": lambda: seeded.admin.token,
        "superAdmin": lambda: seeded.super_admin.token,
        "student": lambda: seeded.student.token,
        "service": service_token,
    }
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)

    failures: list[str] = []
    exercised = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        runs = RUNS_FOR_SERVICES if is_m2m(operation.path) else RUNS_FOR_USERS
        for run in runs:
            if run.mode is GenerationMode.NEGATIVE and not can_be_negated(operation):
                continue
            try:
                fuzz_operation(operation, run, tokens[run.caller](), seeded.path_values)
            except (Exception, FailureGroup) as exc:  # collect every failure, report them together
                failures.append(
                    f"{operation.label} as {run.caller} ({run.mode}, pinned={run.pinned}): {describe(exc)}"
                )
            exercised += 1

    assert exercised >= 20, "the schema lost its operations"
    assert not failures, "\n\n".join(failures)
