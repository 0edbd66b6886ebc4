"""Schema-driven fuzzing of every REST route published in ``/openapi.json``.

Schemathesis reads the in-process app's OpenAPI document and generates requests for each
operation, as each caller: a student, a tutor, an admin, a superAdmin, a service (M2M) token, no
token and a forged token. Per operation and caller there are up to three runs:

- valid requests steered to the caller's own records (``tests.support.fuzzing``: path ids,
  participants, reply targets and filters point at seeded rooms and messages the caller may use,
  and a delete gets a freshly sent message each time), so they reach the success path;
- valid requests exactly as generated (random ids and participants);
- requests that break the schema, with the path ids pinned so they reach real records.

Callers for whom the operation has no success path (a user on an M2M route, a service on a user
route, no or a forged token on either) get fewer examples of the first and third kind.

Every response must not be a 5xx, must use a status the operation documents and match its
documented content type and schema. A caller with no right to an operation must never get a 2xx,
and every caller with the right must have got at least one 2xx from every operation, so the
success paths stay covered as the document and the service change.

``MESSAGING_FUZZ_EXAMPLES`` sets the examples per operation and caller (default: a quick run);
generation is deterministic, and each request has a timeout so a hanging route fails the run.
The test prints its summary: requests and 2xx per operation and caller, and the statuses seen.
"""

from __future__ import annotations

import os
import time
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import requests
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

from tests.support.fuzzing import (
    CALLERS,
    DEAD_WEBHOOK_SETTINGS,
    Seeded,
    allowed_callers,
    pin_path,
    seed,
    steer_body,
)
from tutorhub_messaging.app import create_app
from tutorhub_messaging.settings import Settings, load_settings

QUICK_EXAMPLES = 4
REQUEST_TIMEOUT_SECONDS = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def examples_per_operation() -> int:
    raw = os.environ.get("MESSAGING_FUZZ_EXAMPLES", "").strip()
    if not raw:
        return QUICK_EXAMPLES
    if not raw.isdigit() or int(raw) < 1:
        raise pytest.UsageError(f"MESSAGING_FUZZ_EXAMPLES must be a positive integer, not {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Run:
    mode: GenerationMode
    pinned: bool  # path ids pinned (and, for valid requests, the body steered) to seeded records
    share: float  # of the examples per operation and caller

    def examples(self, total: int) -> int:
        return max(1, round(total * self.share))


RUNS_WITH_RIGHTS = (
    Run(GenerationMode.POSITIVE, pinned=True, share=0.6),
    Run(GenerationMode.POSITIVE, pinned=False, share=0.15),
    Run(GenerationMode.NEGATIVE, pinned=True, share=0.25),
)
RUNS_WITHOUT_RIGHTS = (
    Run(GenerationMode.POSITIVE, pinned=True, share=0.1),
    Run(GenerationMode.NEGATIVE, pinned=True, share=0.05),
)


def can_be_negated(operation: Any) -> bool:
    """Whether breaking the schema means anything: path parameters are free-form strings, so
    only a query parameter or a body can be made invalid."""
    return bool(operation.body) or bool(operation.query)


def documents_success(operation: Any) -> bool:
    return any(str(status).startswith("2") for status in operation.definition.raw.get("responses", {}))


@dataclass
class Tally:
    """Statuses per operation and caller, and every failed check."""

    statuses: defaultdict[tuple[str, str], Counter[int]]
    failures: list[str]
    started: float
    # Valid requests steered to the caller's records that were still refused as invalid input:
    # what the document cannot say (or does not say yet), by operation and reason.
    refused_valid: Counter[tuple[str, str]]

    @classmethod
    def start(cls) -> Tally:
        return cls(defaultdict(Counter), [], time.monotonic(), Counter())

    def successes(self, label: str, caller: str) -> int:
        return sum(n for status, n in self.statuses[(label, caller)].items() if 200 <= status < 300)

    def requests(self) -> int:
        return sum(sum(counts.values()) for counts in self.statuses.values())

    def server_errors(self) -> int:
        return sum(n for counts in self.statuses.values() for status, n in counts.items() if status >= 500)

    def summary(self, labels: list[str], examples: int) -> str:
        width = max(len(label) for label in labels)
        lines = [
            f"API fuzz run: {examples} examples per operation and caller, {self.requests()} requests "
            f"in {time.monotonic() - self.started:.1f} s, {self.server_errors()} server errors (5xx), "
            f"{len(self.failures)} failed checks",
            "cells: requests/2xx responses (- = no request)",
            f"{'operation':<{width}} " + " ".join(f"{caller:>10}" for caller in CALLERS) + "  statuses",
        ]
        for label in labels:
            cells = []
            per_operation: Counter[int] = Counter()
            for caller in CALLERS:
                counts = self.statuses.get((label, caller), Counter())
                per_operation.update(counts)
                total = sum(counts.values())
                cells.append(f"{f'{total}/{self.successes(label, caller)}' if total else '-':>10}")
            statuses = " ".join(f"{status}x{n}" for status, n in sorted(per_operation.items()))
            lines.append(f"{label:<{width}} " + " ".join(cells) + "  " + statuses)
        lines.append(
            "valid requests steered to the caller's records and still answered 400: "
            f"{sum(self.refused_valid.values())}"
        )
        for (label, reason), n in self.refused_valid.most_common(10):
            lines.append(f"  {n:>5}  {label}: {reason}")
        return "\n".join(lines)


@pytest.fixture
def fuzz_settings(settings: Settings) -> Settings:
    # Enough message budget that sends keep reaching the store instead of the rate limit; events
    # go to a webhook on a closed port with a tiny retry budget, so dead-lettered deliveries exist
    # for the replay route to succeed on.
    return load_settings(
        **{
            **settings.model_dump(),
            "message_rate_per_minute": 1_000_000,
            **DEAD_WEBHOOK_SETTINGS,
        }
    )


@pytest.fixture
def fuzz_app(fuzz_settings: Settings) -> Iterator[Any]:
    """An app driven only by Schemathesis's own event loop thread (the database engine binds
    its connections to the loop that first uses them); its lifespan disposes the engine."""
    application = create_app(fuzz_settings)
    yield application
    asgi.shutdown_lifespans()


def fuzz_operation(
    operation: Any,
    caller: str,
    run: Run,
    examples: int,
    seeded: Seeded,
    client: requests.Session,
    tally: Tally,
) -> None:
    allowed = caller in allowed_callers(operation.path)
    strategy = operation.as_strategy(generation_mode=run.mode)
    positive = run.mode is GenerationMode.POSITIVE

    # Repeatable, and different for each operation, caller and run.
    @hypothesis.seed(zlib.crc32(f"{operation.label} {caller} {run}".encode()))
    @hypothesis.settings(
        max_examples=run.examples(examples),
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def exercise(case: Any) -> None:
        if run.pinned:
            if positive:
                steer_body(case, caller, seeded)
            pin_path(case, caller, seeded, client)
        headers = seeded.headers(caller)
        response = case.call(session=client, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
        tally.statuses[(operation.label, caller)][response.status_code] += 1
        if positive and allowed and run.pinned and response.status_code == 400:
            tally.refused_valid[(operation.label, refusal_reason(response))] += 1
        if not allowed and response.status_code < 300:
            raise AssertionError(f"{caller} has no right to this operation but got {response.status_code}")
        case.validate_response(response, checks=CHECKS, headers=headers)

    exercise()


def refusal_reason(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:120]
    return str(body.get("detail") or body.get("error") or body)[:120] if isinstance(body, dict) else str(body)


def describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(inner) for inner in exc.exceptions)
    return str(exc)[:1500]


def test_every_route_survives_schema_driven_fuzzing(
    fuzz_app: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    examples = examples_per_operation()
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    tally = Tally.start()
    operations = [result.ok() for result in schema.get_all_operations()]
    with asgi.get_client(fuzz_app) as client:
        seeded = seed(client)
        for operation in operations:
            allowed = allowed_callers(operation.path)
            for caller in CALLERS:
                for run in RUNS_WITH_RIGHTS if caller in allowed else RUNS_WITHOUT_RIGHTS:
                    if run.mode is GenerationMode.NEGATIVE and not can_be_negated(operation):
                        continue
                    try:
                        fuzz_operation(operation, caller, run, examples, seeded, client, tally)
                    except (Exception, FailureGroup) as exc:  # collect every failure, report them together
                        tally.failures.append(
                            f"{operation.label} as {caller} ({run.mode.value}, pinned={run.pinned}): "
                            f"{describe(exc)}"
                        )

    labels = [operation.label for operation in operations]
    never_succeeded = [
        f"{operation.label} never answered 2xx to {caller}"
        for operation in operations
        if documents_success(operation)
        for caller in sorted(allowed_callers(operation.path))
        if tally.successes(operation.label, caller) == 0
    ]
    summary = tally.summary(labels, examples)
    with capsys.disabled():
        print("\n" + summary)
    assert len(operations) >= 20, "the schema lost its operations"
    assert not tally.failures and not never_succeeded, "\n\n".join([*tally.failures, *never_succeeded])
