"""The three scenarios, each run against one server (the service or a relay) by the Node load
generator, and the sizes of a full and a quick run."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import stages
from procs import LoadGenerator, Processes, Server, cpu_seconds, machine_busy_seconds, rss_bytes
from seed import HistoryData, Room
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tutorhub_messaging.identity.tokens import mint_user_token

SOCKET_PATH = "/socket.io/"


@dataclass(frozen=True)
class Plan:
    inbox_rooms: int
    rates: tuple[int, ...]
    warmup_seconds: float
    measure_seconds: float
    drain_seconds: float
    max_p99_ms: float
    capacity_sockets: int
    capacity_warm: int
    history_rooms: int
    history_sizes: tuple[int, ...]
    history_joins: int
    inbox_calls: int
    # The webhooks on/off comparison: a finer ladder, so a ratio near 0.9 can be told apart.
    webhook_rates: tuple[int, ...] = ()


def _ladder(start: int, stop: int, factor: float) -> tuple[int, ...]:
    rates = [start]
    while rates[-1] * factor <= stop:
        rates.append(round(rates[-1] * factor / 10) * 10)
    return tuple(rates)


FULL = Plan(
    inbox_rooms=500,
    rates=_ladder(400, 6_000, 1.15),
    warmup_seconds=1.0,
    measure_seconds=6.0,
    drain_seconds=5.0,
    max_p99_ms=100.0,
    capacity_sockets=10_000,
    capacity_warm=200,
    history_rooms=10_000,
    history_sizes=(10_000, 1_000_000),
    history_joins=300,
    inbox_calls=200,
    webhook_rates=_ladder(600, 6_000, 1.07),
)

QUICK = Plan(
    inbox_rooms=50,
    rates=(200, 400, 800),
    warmup_seconds=0.5,
    measure_seconds=2.0,
    drain_seconds=2.0,
    max_p99_ms=100.0,
    capacity_sockets=1_000,
    capacity_warm=100,
    history_rooms=1_000,
    history_sizes=(10_000, 100_000),
    history_joins=100,
    inbox_calls=50,
)


# Seconds, not minutes: checks that the harness runs end to end; its numbers mean nothing.
SMOKE = Plan(
    inbox_rooms=10,
    rates=(100,),
    warmup_seconds=0.2,
    measure_seconds=1.0,
    drain_seconds=1.0,
    max_p99_ms=100.0,
    capacity_sockets=100,
    capacity_warm=20,
    history_rooms=100,
    history_sizes=(1_000, 2_000),
    history_joins=10,
    inbox_calls=10,
)


class Tokens:
    """Access tokens minted with the secret the service was started with."""

    def __init__(self, secret: str) -> None:
        self.secret = secret

    def of(self, user_id: str, role: str) -> str:
        return mint_user_token(
            self.secret, user_id=user_id, role=role, fullname=f"Bench {role}", ttl_seconds=4 * 3600
        )


def _config_file(config: dict[str, Any]) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".json", prefix="bench-load-", delete=False) as handle:
        json.dump(config, handle)
    return Path(handle.name)


def _base_config(server: Server, time_limit: float) -> dict[str, Any]:
    return {
        "url": server.url,
        "namespace": server.namespace,
        "path": SOCKET_PATH,
        "concurrency": 100,
        "timeLimitSeconds": time_limit,
    }


def _room_entries(rooms: list[Room], tokens: Tokens) -> list[dict[str, Any]]:
    return [
        {
            "roomId": r.room_id,
            "tokens": [tokens.of(r.participant_a, "student"), tokens.of(r.participant_b, "tutor")],
        }
        for r in rooms
    ]


def run_inbox(
    procs: Processes,
    server: Server,
    rooms: list[Room],
    tokens: Tokens,
    plan: Plan,
    on_ready: Callable[[], None] | None = None,
    beside: int | None = None,
) -> dict[str, Any]:
    """``on_ready`` runs once every socket is connected and joined, just before the ladder.
    ``beside``: the pid of another service process (a ``deliver``) whose CPU each step records."""
    config = {
        **_base_config(server, 900),
        "rooms": _room_entries(rooms, tokens),
        "rates": list(plan.rates),
        "warmupSeconds": plan.warmup_seconds,
        "measureSeconds": plan.measure_seconds,
        "drainSeconds": plan.drain_seconds,
        "maxP99Ms": plan.max_p99_ms,
    }
    path = _config_file(config)
    try:
        load = LoadGenerator(procs, "inbox", path)
        ready = load.next_record()
        if on_ready is not None:
            on_ready()
        cpu_before = cpu_seconds(server.pid)
        # Each step's share of a core (CPU seconds over the step's wall time), to tell a saturated
        # process from one that waits.
        step_started, step_cpu, machine_busy = time.monotonic(), cpu_before, machine_busy_seconds()
        beside_cpu = cpu_seconds(beside) if beside is not None else 0.0
        steps = []
        last = stages.snapshot(server.url)
        for record in load.records():
            if record["type"] != "step":
                continue
            wall, used = time.monotonic() - step_started, cpu_seconds(server.pid)
            record["serviceCores"] = (used - step_cpu) / wall
            if beside is not None:
                used_beside = cpu_seconds(beside)
                record["besideCores"] = (used_beside - beside_cpu) / wall
                beside_cpu = used_beside
            busy = machine_busy_seconds()
            record["machineCores"] = (busy - machine_busy) / wall
            step_started, step_cpu, machine_busy = time.monotonic(), used, busy
            now = stages.snapshot(server.url) if last is not None else None
            if last is not None and now is not None:
                record["stages"] = stages.step_stages(last, now)
                last = now
            steps.append(record)
        cpu_used = cpu_seconds(server.pid) - cpu_before
        load.finish()
    finally:
        path.unlink(missing_ok=True)
    sent = sum(s["sent"] for s in steps)
    # Server CPU per message over the whole ladder (drains included): the cost of one message.
    return {
        "sockets": ready["sockets"],
        "steps": steps,
        "sent": sent,
        "cpu_us_per_message": 1e6 * cpu_used / max(1, sent),
    }


def sustained(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The highest delivered rate among the steps where delivery kept up with the offered load
    and p99 stayed within the bound."""
    good = [s for s in steps if s["keptUp"] and s["p99"] is not None and s["p99"] <= 100.0]
    return max(good, key=lambda s: s["deliveredPerSecond"]) if good else None


def run_capacity(
    procs: Processes, server: Server, rooms: list[Room], tokens: Tokens, plan: Plan
) -> dict[str, Any]:
    entries = [
        {"roomId": room["roomId"], "token": token}
        for room in _room_entries(rooms, tokens)
        for token in room["tokens"]
    ]
    config = {**_base_config(server, 900), "entries": entries, "warm": plan.capacity_warm}
    path = _config_file(config)
    try:
        load = LoadGenerator(procs, "capacity", path)
        warm = load.next_record()
        time.sleep(2)
        rss_warm = rss_bytes(server.pid)
        load.release()
        loaded = load.next_record()
        time.sleep(3)  # idle: let in-flight work settle before reading memory
        rss_loaded = rss_bytes(server.pid)
        load.release()
        load.finish()
    finally:
        path.unlink(missing_ok=True)
    added = loaded["sockets"] - warm["sockets"]
    return {
        "sockets": loaded["sockets"],
        "rss_warm": rss_warm,
        "rss_loaded": rss_loaded,
        "bytes_per_socket": (rss_loaded - rss_warm) / added,
        "connect_per_second": loaded["connectPerSecond"],
        "join_per_second": loaded["joinPerSecond"],
    }


def run_history(
    procs: Processes, server: Server, data: HistoryData, tokens: Tokens, plan: Plan
) -> dict[str, Any]:
    token = tokens.of(data.user_id, "student")
    config = {
        **_base_config(server, 600),
        "token": token,
        "roomIds": data.user_rooms,
        "warmup": 20,
        "joins": plan.history_joins,
        "inboxCalls": plan.inbox_calls,
        "inboxUrl": f"{server.url}/v1/myconversations?pageRowCount={len(data.user_rooms)}",
    }
    path = _config_file(config)
    try:
        load = LoadGenerator(procs, "history", path)
        record = load.next_record()
        load.finish()
    finally:
        path.unlink(missing_ok=True)
    return {**record, "messages": data.messages, "rooms": data.rooms, "seed_seconds": data.seconds}


async def _count_messages(url: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM chat_message"))).scalar_one())
    finally:
        await engine.dispose()


def count_messages(url: str) -> int:
    return asyncio.run(_count_messages(url))


async def _count_rows(url: str, table: str) -> int:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())
    finally:
        await engine.dispose()


def count_rows(url: str, table: str) -> int:
    return asyncio.run(_count_rows(url, table))
