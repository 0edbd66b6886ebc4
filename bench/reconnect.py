"""The reconnect scenario: a server restarted under its users, driven by ``loadgen/reconnect.js``.

N users (half students, half tutors) each hold one socket and 4 rooms of 2 participants: student
``i`` is paired with tutors ``i``, ``i+1``, ``i+2``, ``i+3`` (modulo the tutors), so every user is
in exactly 4 rooms. Each room starts with one stored message, so every client holds a last
message id in every room from its first join. Messages flow at a steady rate; then the server is
stopped by its process id (SIGTERM, then SIGKILL after 10 s) and started again on the same port.
Every client reconnects with the official client's default backoff (1 s doubling to 5 s,
randomized by half) and rejoins each room with ``after`` = the last message id it holds; the
messages generated meanwhile wait in their sender's outbox and are sent once the sender is back in
the room, with a ``clientMessageId`` (see ``loadgen/reconnect.js``).

Reported: (a) the time from the stop until every socket has ``hub:joined`` for every room, (b)
every message generated arrived exactly once at its recipient (lost, duplicated), for the whole
run and for the messages generated during the gap, and the rate of rejoins while some were
outstanding. The relays store nothing, so they have no history to give back: a message sent while
its recipient is away is lost there, which the table shows as is.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from procs import LoadGenerator, Processes, Server
from scenarios import SOCKET_PATH, Tokens, _config_file
from seed import Room

ROOMS_PER_USER = 4


@dataclass(frozen=True)
class ReconnectPlan:
    users: int
    rate: int  # messages a second, all users together
    steady_seconds: float  # messages flowing before the restart
    after_seconds: float  # and after every socket is back, before the drain
    drain_seconds: float
    rejoin_timeout_seconds: float


RECONNECT_FULL = ReconnectPlan(5_000, 200, 5.0, 3.0, 30.0, 180.0)
RECONNECT_QUICK = ReconnectPlan(500, 50, 3.0, 2.0, 20.0, 60.0)
RECONNECT_SMOKE = ReconnectPlan(100, 20, 1.0, 1.0, 10.0, 30.0)


@dataclass(frozen=True)
class Users:
    ids: list[str]
    roles: list[str]
    rooms: list[Room]
    rooms_of: list[list[str]]


def pair_users(count: int) -> Users:
    """``count`` users (rounded down to an even number of at least 8), each in 4 rooms."""
    half = max(ROOMS_PER_USER, count // 2)
    students = [str(uuid.uuid4()) for _ in range(half)]
    tutors = [str(uuid.uuid4()) for _ in range(half)]
    rooms_of: list[list[str]] = [[] for _ in range(2 * half)]
    rooms = []
    for s, student in enumerate(students):
        for k in range(ROOMS_PER_USER):
            t = (s + k) % half
            room = Room(str(uuid.uuid4()), student, tutors[t])
            rooms.append(room)
            rooms_of[s].append(room.room_id)
            rooms_of[half + t].append(room.room_id)
    return Users(students + tutors, ["student"] * half + ["tutor"] * half, rooms, rooms_of)


def run_reconnect(
    procs: Processes,
    server: Server,
    restart: Callable[[Server], Server],
    users: Users,
    tokens: Tokens,
    plan: ReconnectPlan,
) -> tuple[dict[str, Any], Server]:
    """``restart`` stops the server by its process id and starts it again on the same port; the
    server running at the end is returned with the result."""
    config = {
        "url": server.url,
        "namespace": server.namespace,
        "path": SOCKET_PATH,
        "concurrency": 100,
        "users": [
            {"token": tokens.of(user_id, role), "rooms": rooms}
            for user_id, role, rooms in zip(users.ids, users.roles, users.rooms_of, strict=True)
        ],
        "rate": plan.rate,
        "steadySeconds": plan.steady_seconds,
        "afterSeconds": plan.after_seconds,
        "drainSeconds": plan.drain_seconds,
        "restartTimeoutSeconds": 120,
        "rejoinTimeoutSeconds": plan.rejoin_timeout_seconds,
        "timeLimitSeconds": 900,
    }
    path = _config_file(config)
    try:
        load = LoadGenerator(procs, None, path, script="reconnect.js")
        load.next_record()  # every socket connected and in its rooms
        steady = load.next_record()
        assert steady["type"] == "steady", steady
        load.send(f"stop {time.time() * 1000:.0f}")
        server = restart(server)
        load.send(f"ready {time.time() * 1000:.0f}")
        result = load.next_record()
        load.finish()
        details = {
            key: result.get(key)
            for key in (
                "allBack",
                "rejoins",
                "everyRoom",
                "stopToAllBackMs",
                "drained",
                "connectErrors",
                "errorCodes",
                "unconfirmed",
                "duplicates",
            )
        }
        print(f"{server.name}: {json.dumps(details)}", file=sys.stderr, flush=True)
    finally:
        path.unlink(missing_ok=True)
    return result, server


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1000:.2f} s"


def reconnect_section(results: dict[str, dict[str, Any]], plan: ReconnectPlan) -> list[str]:
    """``results``: system name -> run_reconnect result."""
    lines = [
        f"### Reconnect: {plan.users:,} users, {ROOMS_PER_USER} rooms each, server restarted under "
        f"{plan.rate} msg/s",
        "",
        "| system | stop → new process answers | stop → every socket back in every room | "
        "answers → every socket back | rejoins/s while outstanding | one socket: reconnect → "
        "its rooms rejoined, p50 / p99 | messages (during the gap) | lost (during the gap) | "
        "duplicated (during the gap) | hub:error |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        back = (
            _ms(r["stopToAllBackMs"]) if r["allBack"] else f"not all: {r['rejoins']:,} of {r['everyRoom']:,}"
        )
        rate = r["rejoinsPerBusySecond"]
        lines.append(
            f"| {name} | {_ms(r['stopToReadyMs'])} | {back} | {_ms(r['readyToAllBackMs'])} | "
            f"{'-' if rate is None else f'{rate:,.0f}'} | "
            f"{_ms(r['socketBackP50Ms'])} / {_ms(r['socketBackP99Ms'])} | "
            f"{r['generated']:,} ({r['gapMessages']:,}) | {r['lost']:,} ({r['gapLost']:,}) | "
            f"{r['duplicated']:,} ({r['gapDuplicated']:,}) | {r['errors']} |"
        )
    return lines


def reconnect_targets(results: dict[str, dict[str, Any]], relay: str) -> list[str]:
    """Each service run against the python relay: time ≤ 2x, rejoin rate ≥ 0.5x, nothing lost or
    duplicated."""
    base = results.get(relay)
    rows = []
    for name, r in results.items():
        if not name.startswith("service"):
            continue
        if base and base["allBack"] and r["allBack"]:
            ratio = r["stopToAllBackMs"] / base["stopToAllBackMs"]
            rows.append(
                f"| {name}: stop → all back ≤ 2x the python relay | {ratio:.2f}x | "
                f"{'met' if ratio <= 2 else 'not met'} |"
            )
        if base and base["rejoinsPerBusySecond"] and r["rejoinsPerBusySecond"]:
            ratio = r["rejoinsPerBusySecond"] / base["rejoinsPerBusySecond"]
            rows.append(
                f"| {name}: rejoins with `after`/s ≥ 0.5x the python relay's joins/s | {ratio:.2f}x | "
                f"{'met' if ratio >= 0.5 else 'not met'} |"
            )
        exact = r["lost"] == 0 and r["duplicated"] == 0 and r["drained"]
        rows.append(
            f"| {name}: every message exactly once | {r['lost']} lost, {r['duplicated']} duplicated | "
            f"{'met' if exact else 'not met'} |"
        )
    if not rows:
        return []
    return ["#### Targets (reconnect)", "", "| target | measured | verdict |", "|---|---|---|", *rows]


def plan_lines(plan: ReconnectPlan) -> list[str]:
    return [
        f"- Reconnect: {plan.users:,} users (half students, half tutors), one socket each, "
        f"{ROOMS_PER_USER} two-user rooms each ({plan.users * ROOMS_PER_USER // 2:,} rooms, one stored "
        f"message each); {plan.rate} msg/s over every (user, room) in turn, {plan.steady_seconds:g} s "
        "before the restart; the server stopped by its pid (SIGTERM) and started on the same port; "
        f"messages go on for {plan.after_seconds:g} s after every socket is back, then up to "
        f"{plan.drain_seconds:g} s for every outbox to empty. The relays run the same clients; they "
        "answer every join with an empty history.",
    ]
