"""The abuse scenario: a bystander pair's send -> arrival latency and the service's memory, calm and
under each of five attacks, driven by ``loadgen/abuse.js``.

The service runs as ``serve`` would in production on each database: on SQLite one process alone;
on PostgreSQL with Redis (under a key prefix of this run, whose keys are deleted afterwards).
While the load generator runs its phases, a thread samples the service's resident memory from
/proc every 100 ms; at each phase's start and end the service's ``/metrics`` counters are read, and
the lines the service logged in between are counted by level.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from procs import LoadGenerator, Processes, Server, cpu_seconds, rss_bytes
from prometheus_client.parser import text_string_to_metric_families
from scenarios import SOCKET_PATH, Tokens, _config_file
from seed import Room, new_rooms, seed_conversations

REDIS_URL = "redis://127.0.0.1:6379/0"
# The attacks by their command-line names, in the order they run, and the load generator's names.
ATTACKS = {
    "slow-reader": "slowReader",
    "namespace-spray": "namespaceSpray",
    "join-flood": "joinFlood",
    "event-flood": "eventFlood",
    "heavy-search": "heavySearch",
}
# Shapes of the heavy search, most expensive first: (content values, characters per value). The
# attack uses the first one the service accepts (a smaller one when bounds refuse the larger).
SEARCH_SHAPES = ((50, 1000), (50, 500), (50, 200), (20, 200), (20, 100), (10, 100), (10, 50), (5, 50))
# Counters that move with any traffic; the report lists the others that moved during a phase.
ROUTINE_COUNTERS = (
    "messaging_hub_messages_in_total",
    "messaging_hub_messages_out_total",
    "messaging_outbox_events_total",
)
# Gauges read at the end of each phase, when the service has them.
GAUGES = ("messaging_hub_outgoing_buffer_peak_bytes",)


@dataclass(frozen=True)
class AbusePlan:
    bystander_rate: int  # messages a second, the two participants together
    calm_seconds: float
    attack_seconds: float
    drain_seconds: float
    cooldown_seconds: float
    event_bytes: int  # the large custom events of the slow reader and the event flood
    events_in_flight: int  # per flooding socket
    spray_sockets: int
    spray_concurrency: int
    join_sockets: int
    join_room_messages: int
    search_messages: int
    search_rooms: int
    search_concurrency: int
    max_events_per_attack: int
    attacks: tuple[str, ...] = tuple(ATTACKS)  # command-line names


ABUSE_FULL = AbusePlan(
    bystander_rate=20,
    calm_seconds=20,
    attack_seconds=20,
    drain_seconds=5,
    cooldown_seconds=3,
    event_bytes=60_000,
    events_in_flight=16,
    spray_sockets=1_000,
    spray_concurrency=50,
    join_sockets=20,
    join_room_messages=60,
    search_messages=5_000,
    search_rooms=10,
    search_concurrency=20,
    max_events_per_attack=1_000_000,
)

ABUSE_QUICK = AbusePlan(
    **{
        **asdict(ABUSE_FULL),
        "calm_seconds": 4,
        "attack_seconds": 4,
        "drain_seconds": 2,
        "cooldown_seconds": 1,
        "spray_sockets": 200,
    }
)

# Seconds per phase: checks that the harness runs end to end; its numbers mean nothing.
ABUSE_SMOKE = AbusePlan(
    **{
        **asdict(ABUSE_FULL),
        "calm_seconds": 2,
        "attack_seconds": 2,
        "drain_seconds": 1,
        "cooldown_seconds": 0.5,
        "spray_sockets": 50,
        "search_messages": 500,
    }
)


@dataclass(frozen=True)
class AbuseData:
    bystander: Room
    slow_reader: Room
    spray_user: str
    join_rooms: list[Room]
    event_room: Room
    search_user: str


def seed_abuse(url: str, plan: AbusePlan) -> AbuseData:
    """The rooms of the bystander pair and of each attacker; the join flood's rooms hold a full
    history page each, the searching student's rooms ``search_messages`` messages in all, every
    one of them sent by that student."""
    join_user, search_user = str(uuid.uuid4()), str(uuid.uuid4())
    data = AbuseData(
        bystander=new_rooms(1)[0],
        slow_reader=new_rooms(1)[0],
        spray_user=str(uuid.uuid4()),
        join_rooms=new_rooms(plan.join_sockets, participant_a=join_user),
        event_room=new_rooms(1)[0],
        search_user=search_user,
    )
    search_rooms = new_rooms(plan.search_rooms, participant_a=search_user)
    per_room = plan.search_messages // plan.search_rooms
    seed_conversations(
        url,
        [(data.bystander, 0), (data.slow_reader, 0), (data.event_room, 0)]
        + [(room, plan.join_room_messages) for room in data.join_rooms]
        + [(room, per_room) for room in search_rooms],
    )
    return data


def service_env(db: str) -> tuple[dict[str, str], str | None]:
    """Extra settings of the service on ``db``, and the Redis prefix to clean up (or None)."""
    if db != "postgres":
        return {}, None
    prefix = f"bench:{uuid.uuid4().hex[:12]}:"
    return {"MESSAGING_REDIS_URL": REDIS_URL, "MESSAGING_REDIS_PREFIX": prefix}, prefix


def delete_redis_keys(prefix: str) -> None:
    from redis import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


class RssSampler:
    """The service's resident memory every ``interval`` seconds, on a thread of its own."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.monotonic(), rss_bytes(self.pid)))
            except (OSError, RuntimeError):
                return  # the process is gone
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)

    def peak(self, start: float, end: float) -> int:
        return max((rss for at, rss in self.samples if start <= at <= end), default=0)


def _rss(pid: int) -> int:
    """0 once the process is gone (a service that died under attack is a result, not a crash)."""
    try:
        return rss_bytes(pid)
    except (OSError, RuntimeError):
        return 0


def _cpu(pid: int) -> float:
    try:
        return cpu_seconds(pid)
    except (OSError, IndexError, ValueError):
        return 0.0


def _counters(url: str) -> dict[str, float]:
    """Every counter sample of ``/metrics`` except the process's own and the routine ones, and the
    gauges of ``GAUGES`` (none when the service does not answer)."""
    try:
        with urllib.request.urlopen(url + "/metrics", timeout=60) as response:
            text = response.read().decode()
    except OSError:
        return {}
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        if family.type not in ("counter", "gauge") or family.name.startswith(("process_", "python_")):
            continue
        for sample in family.samples:
            if sample.name in GAUGES:
                values[sample.name] = sample.value
            if not sample.name.endswith("_total") or sample.name in ROUTINE_COUNTERS:
                continue
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def _log_levels(path: Path, offset: int) -> tuple[dict[str, int], int]:
    """Lines the service logged since ``offset``, by level; and the new offset."""
    levels: Counter[str] = Counter()
    with path.open("rb") as log:
        log.seek(offset)
        for line in log:
            try:
                levels[str(json.loads(line).get("level", "other"))] += 1
            except (ValueError, AttributeError):
                levels["other"] += 1
        return dict(levels), log.tell()


def _config(server: Server, data: AbuseData, tokens: Tokens, plan: AbusePlan) -> dict[str, Any]:
    def student(user: str) -> str:
        return tokens.of(user, "student")

    def tutor(user: str) -> str:
        return tokens.of(user, "tutor")

    phases = 1 + len(plan.attacks)
    per_phase = max(plan.calm_seconds, plan.attack_seconds) + plan.drain_seconds + plan.cooldown_seconds
    return {
        "url": server.url,
        "namespace": server.namespace,
        "path": SOCKET_PATH,
        "timeLimitSeconds": 120 + phases * (per_phase + 60),
        "calmSeconds": plan.calm_seconds,
        "attackSeconds": plan.attack_seconds,
        "drainSeconds": plan.drain_seconds,
        "cooldownSeconds": plan.cooldown_seconds,
        "maxEventsPerAttack": plan.max_events_per_attack,
        "attacks": [ATTACKS[name] for name in plan.attacks],
        "bystander": {
            "roomId": data.bystander.room_id,
            "tokens": [student(data.bystander.participant_a), tutor(data.bystander.participant_b)],
            "rate": plan.bystander_rate,
        },
        "slowReader": {
            "roomId": data.slow_reader.room_id,
            "readerToken": tutor(data.slow_reader.participant_b),
            "senderToken": student(data.slow_reader.participant_a),
            "eventBytes": plan.event_bytes,
            "inFlight": plan.events_in_flight,
            "resumeSeconds": 5,
        },
        "namespaceSpray": {
            "token": student(data.spray_user),
            "sockets": plan.spray_sockets,
            "concurrency": plan.spray_concurrency,
        },
        "joinFlood": {
            "token": student(data.join_rooms[0].participant_a),
            "roomIds": [room.room_id for room in data.join_rooms],
        },
        "eventFlood": {
            "roomId": data.event_room.room_id,
            "token": student(data.event_room.participant_a),
            "peerToken": tutor(data.event_room.participant_b),
            "eventBytes": plan.event_bytes,
            "inFlight": plan.events_in_flight,
        },
        "heavySearch": {
            "url": server.url + "/v1/v1/chat-messages",
            "token": student(data.search_user),
            "concurrency": plan.search_concurrency,
            "shapes": [list(shape) for shape in SEARCH_SHAPES],
        },
    }


def run_abuse(
    procs: Processes,
    server: Server,
    data: AbuseData,
    tokens: Tokens,
    plan: AbusePlan,
    log_path: Path,
    profile: Callable[[str], Any] | None = None,
    finish_profile: Callable[[Any], None] | None = None,
) -> list[dict[str, Any]]:
    """One result per phase: the bystander's latency, the attack's own counts, the service's
    memory (before, peak, end), CPU, counters that moved and lines logged. With ``profile``, each
    attack phase is sampled by ``profile(phase name)`` until its end (``finish_profile``)."""
    path = _config_file(_config(server, data, tokens, plan))
    phases: list[dict[str, Any]] = []
    try:
        with RssSampler(server.pid) as sampler:
            load = LoadGenerator(procs, None, path, script="abuse.js")
            records: Iterator[dict[str, Any]] = load.records()
            offset = log_path.stat().st_size
            start: dict[str, Any] = {}
            profiler: Any = None
            for record in records:
                if record["type"] == "phaseStart":
                    _, offset = _log_levels(log_path, offset)
                    start = {
                        "at": time.monotonic(),
                        "rss": _rss(server.pid),
                        "cpu": _cpu(server.pid),
                        "load_cpu": _cpu(load.process.pid),
                        "counters": _counters(server.url),
                    }
                    if profile is not None and record.get("name") != "calm":
                        profiler = profile(str(record.get("name")))
                    load.release()
                elif record["type"] == "phaseEnd":
                    end = time.monotonic()
                    if profiler is not None and finish_profile is not None:
                        finish_profile(profiler)
                        profiler = None
                    counters = _counters(server.url)
                    levels, offset = _log_levels(log_path, offset)
                    gauges = {name: counters.pop(name) for name in GAUGES if name in counters}
                    moved = {
                        name: value - start["counters"].get(name, 0.0)
                        for name, value in counters.items()
                        if name not in GAUGES and value != start["counters"].get(name, 0.0)
                    }
                    phases.append(
                        {
                            **record,
                            "rss_before": start["rss"],
                            "rss_peak": max(sampler.peak(start["at"], end), start["rss"]),
                            "rss_end": _rss(server.pid),
                            "cpu_seconds": _cpu(server.pid) - start["cpu"],
                            # The attackers and the bystander share one Node process: if it was
                            # busy all along, the bystander's timings include its own queueing.
                            "load_cpu_seconds": _cpu(load.process.pid) - start["load_cpu"],
                            "wall_seconds": end - start["at"],
                            "counters": moved,
                            "gauges": gauges,
                            "log_lines": levels,
                        }
                    )
            load.finish(timeout=60)
    finally:
        path.unlink(missing_ok=True)
    return phases
