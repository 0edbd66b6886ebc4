"""Benchmarks of the messaging service, side by side with two bare relays.

    python bench/run.py --db sqlite|postgres|both [--quick | --smoke]
                        [--only inbox,capacity,history,webhooks,abuse,reconnect]
                        [--attacks slow-reader,...]
                        [--no-baselines]

Starts the real ``tutorhub-messaging serve`` on loopback against a fresh database (a temp SQLite
file, or a throwaway PostgreSQL database dropped afterwards), drives it with the Node load
generator (official socket.io-client), runs the same client load against a bare python-socketio
relay and a bare Node socket.io relay, and writes a markdown report to stdout and to
``bench/results/<timestamp>.md``. Every process and database it creates is removed on exit,
Ctrl-C included. See BENCHMARKS.md.

``webhooks``: the inbox ladder three times in one run, on fresh databases (a finer ladder than
``inbox``): webhooks off, then on (every event POSTed to a local receiver that answers 204) sent
by the service process, then sent by a ``tutorhub-messaging deliver`` process; the report gives
the ratios of the sustained rates (target ≥ 0.9x) and checks that every event written was
delivered.

``abuse`` (a bystander's latency and the service's memory under five attacks) and ``reconnect``
(the server restarted under 5,000 users in 4 rooms each: time until every socket is back in every
room, every message exactly once; see ``reconnect.py``) run only when named in ``--only``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import abuse
import abuse_report
import reconnect
import report
import scenarios
import stages
from procs import (
    BENCH_DIR,
    REPO_DIR,
    Processes,
    Server,
    cpu_seconds,
    ensure_loadgen,
    finish_profile,
    profile_process,
    receiver_count,
    start_deliverer,
    start_gc_tuned_python_relay,
    start_node_relay,
    start_python_relay,
    start_service,
    start_webhook_receiver,
)
from seed import Databases, new_rooms, seed_conversations, seed_history, seed_rooms

RATE_LIMIT_FOR_BENCH = 1_000_000
DEFAULT_SCENARIOS = ("inbox", "capacity", "history", "webhooks")
SCENARIOS = (*DEFAULT_SCENARIOS, "abuse", "reconnect")
# After the ladder with webhooks on, how long the receiver may take to get every event.
WEBHOOK_DRAIN_SECONDS = 180


def _raise_file_limit() -> None:
    """10,000 sockets need 10,000+ descriptors in the server and in the load generator."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _stop_on_sigterm() -> None:
    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO_DIR, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine() -> list[str]:
    load = os.getloadavg()
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return [
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}; commit `{_git_commit()}`",
        f"- Machine: {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}; "
        f"load average at start {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}",
        f"- Python {platform.python_version()}, Node {node}; service, relays, load generator and "
        "PostgreSQL all on this one machine, over loopback",
    ]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.plan = scenarios.SMOKE if args.smoke else scenarios.QUICK if args.quick else scenarios.FULL
        self.abuse_plan = (
            abuse.ABUSE_SMOKE if args.smoke else abuse.ABUSE_QUICK if args.quick else abuse.ABUSE_FULL
        )
        self.reconnect_plan = (
            reconnect.RECONNECT_SMOKE
            if args.smoke
            else reconnect.RECONNECT_QUICK
            if args.quick
            else reconnect.RECONNECT_FULL
        )
        if args.attacks:
            self.abuse_plan = dataclasses.replace(self.abuse_plan, attacks=tuple(args.attacks.split(",")))
        self.only = set(args.only.split(",")) if args.only else set(DEFAULT_SCENARIOS)
        self.dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
        self.baselines = not args.no_baselines
        self.profile = args.profile
        self.procs = Processes()
        self.databases = Databases()
        self.secret = secrets.token_urlsafe(32)
        self.tokens = scenarios.Tokens(self.secret)
        self.service_env = {"MESSAGING_MESSAGE_RATE_PER_MINUTE": str(RATE_LIMIT_FOR_BENCH)}

    def _relay_runs(self) -> dict[str, dict[str, Any]]:
        results: dict[str, dict[str, Any]] = {"inbox": {}, "capacity": {}}
        for start in (start_python_relay, start_gc_tuned_python_relay, start_node_relay):
            for scenario in ("inbox", "capacity"):
                if scenario not in self.only:
                    continue
                if scenario == "capacity" and start is start_gc_tuned_python_relay:
                    continue  # the collector's tuning changes pauses, not memory per socket
                server = start(self.procs)
                _log(f"{server.name}: {scenario}")
                if scenario == "inbox":
                    rooms = new_rooms(self.plan.inbox_rooms)
                    results[scenario][server.name] = scenarios.run_inbox(
                        self.procs, server, rooms, self.tokens, self.plan
                    )
                else:
                    rooms = new_rooms(self.plan.capacity_sockets // 2)
                    results[scenario][server.name] = scenarios.run_capacity(
                        self.procs, server, rooms, self.tokens, self.plan
                    )
                self.procs.stop(server.process)
        return results

    def _reconnect_relay_runs(self) -> dict[str, dict[str, Any]]:
        results: dict[str, dict[str, Any]] = {}
        for start in (start_python_relay, start_node_relay):
            server = start(self.procs)
            _log(f"{server.name}: reconnect")

            def restart(old: Server, start: Any = start) -> Server:
                stopping = time.monotonic()
                self.procs.stop(old.process)
                starting = time.monotonic()
                new: Server = start(self.procs, old.port)
                _log(
                    f"restart: the old process stopped in {starting - stopping:.2f} s, "
                    f"the new one answered {time.monotonic() - starting:.2f} s later"
                )
                return new

            users = reconnect.pair_users(self.reconnect_plan.users)
            result, server = reconnect.run_reconnect(
                self.procs, server, restart, users, self.tokens, self.reconnect_plan
            )
            results[server.name] = result
            self.procs.stop(server.process)
        return results

    def _reconnect_run(self, db: str) -> dict[str, Any]:
        """The service on ``db`` (PostgreSQL with Redis, as several processes would run it)."""
        url = self.databases.create(db)
        users = reconnect.pair_users(self.reconnect_plan.users)
        seed_conversations(url, [(room, 1) for room in users.rooms])
        extra_env, redis_prefix = abuse.service_env(db)
        env = {**self.service_env, **extra_env}
        try:
            server = start_service(self.procs, url, self.secret, env)
            _log(f"service on {db}{' + Redis' if redis_prefix else ''}: reconnect")

            profilers: list[subprocess.Popen[Any]] = []

            def restart(old: Server) -> Server:
                stopping = time.monotonic()
                self.procs.stop(old.process)
                starting = time.monotonic()
                new = start_service(self.procs, url, self.secret, env, port=old.port)
                _log(
                    f"restart: the old process stopped in {starting - stopping:.2f} s, "
                    f"the new one answered {time.monotonic() - starting:.2f} s later"
                )
                if self.profile:
                    # The restarted process, from its start through the storm and the drain.
                    profilers.append(profile_process(self.procs, new.pid, f"reconnect-{db}"))
                return new

            result, server = reconnect.run_reconnect(
                self.procs, server, restart, users, self.tokens, self.reconnect_plan
            )
            for profiler in profilers:
                finish_profile(self.procs, profiler)
            self.procs.stop(server.process)
        finally:
            if redis_prefix is not None:
                abuse.delete_redis_keys(redis_prefix)
        result["stored"] = scenarios.count_messages(url)
        return result

    def _service(self, db: str, url: str) -> Server:
        return start_service(self.procs, url, self.secret, self.service_env)

    def _service_runs(self, db: str) -> dict[str, Any]:
        results: dict[str, Any] = {}
        if "inbox" in self.only:
            url = self.databases.create(db)
            rooms = new_rooms(self.plan.inbox_rooms)
            seed_rooms(url, rooms)
            server = self._service(db, url)
            _log(f"service on {db}: inbox")
            profilers: list[subprocess.Popen[Any]] = []

            def start_profiler() -> None:
                # Only the ladder: connecting and joining 1,000 sockets would dominate the samples.
                if self.profile:
                    profilers.append(profile_process(self.procs, server.pid, f"inbox-{db}"))

            inbox = scenarios.run_inbox(self.procs, server, rooms, self.tokens, self.plan, start_profiler)
            for profiler in profilers:
                finish_profile(self.procs, profiler)
            self.procs.stop(server.process)
            inbox["stored"] = scenarios.count_messages(url)
            results["inbox"] = inbox
        if "webhooks" in self.only:
            results["webhooks"] = self._webhook_runs(db)
        if "capacity" in self.only:
            url = self.databases.create(db)
            rooms = new_rooms(self.plan.capacity_sockets // 2)
            seed_rooms(url, rooms)
            server = self._service(db, url)
            _log(f"service on {db}: capacity")
            results["capacity"] = scenarios.run_capacity(self.procs, server, rooms, self.tokens, self.plan)
            self.procs.stop(server.process)
        if "history" in self.only:
            results["history"] = []
            for size in self.plan.history_sizes:
                url = self.databases.create(db)
                _log(f"service on {db}: seeding {size:,} messages")
                data = seed_history(url, total=size, rooms=self.plan.history_rooms)
                server = self._service(db, url)
                _log(f"service on {db}: history at {size:,} messages")
                results["history"].append(
                    scenarios.run_history(self.procs, server, data, self.tokens, self.plan)
                )
                self.procs.stop(server.process)
        if "abuse" in self.only:
            results["abuse"] = self._abuse_run(db)
        if "reconnect" in self.only:
            results["reconnect"] = self._reconnect_run(db)
        return results

    def _abuse_run(self, db: str) -> list[dict[str, Any]]:
        url = self.databases.create(db)
        data = abuse.seed_abuse(url, self.abuse_plan)
        extra_env, redis_prefix = abuse.service_env(db)
        # Kept after the run, next to the report: what the service logged under each attack.
        results_dir = BENCH_DIR / "results"
        results_dir.mkdir(exist_ok=True)
        log_path = results_dir / f"service-abuse-{db}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.log"
        try:
            server = start_service(
                self.procs, url, self.secret, {**self.service_env, **extra_env}, log_path=log_path
            )
            _log(f"service on {db}{' + Redis' if redis_prefix else ''}: abuse")
            phases = abuse.run_abuse(
                self.procs,
                server,
                data,
                self.tokens,
                self.abuse_plan,
                log_path,
                (lambda name: profile_process(self.procs, server.pid, f"abuse-{name}-{db}"))
                if self.profile
                else None,
                lambda profiler: finish_profile(self.procs, profiler),
            )
            self.procs.stop(server.process)
        finally:
            if redis_prefix is not None:
                abuse.delete_redis_keys(redis_prefix)
        return phases

    def _inbox_once(
        self,
        db: str,
        env: dict[str, str],
        before_stop: Any = None,
        label: str = "inbox",
        plan: scenarios.Plan | None = None,
        deliverer: bool = False,
    ) -> dict[str, Any]:
        """``deliverer``: also run ``tutorhub-messaging deliver`` (with ``env``) beside the service."""
        plan = plan or self.plan
        url = self.databases.create(db)
        rooms = new_rooms(plan.inbox_rooms)
        seed_rooms(url, rooms)
        server = start_service(self.procs, url, self.secret, {**self.service_env, **env})
        delivery = start_deliverer(self.procs, url, self.secret, env) if deliverer else None
        profilers: list[subprocess.Popen[Any]] = []

        def start_profiler() -> None:
            if self.profile:
                profilers.append(profile_process(self.procs, server.pid, f"{label}-{db}"))
                if delivery is not None:
                    profilers.append(profile_process(self.procs, delivery.pid, f"{label}-deliver-{db}"))

        result = scenarios.run_inbox(
            self.procs,
            server,
            rooms,
            self.tokens,
            plan,
            start_profiler,
            beside=delivery.pid if delivery is not None else None,
        )
        for profiler in profilers:
            finish_profile(self.procs, profiler)
        result["rates"] = list(plan.rates)
        if before_stop is not None:
            result.update(before_stop(url))
        if delivery is not None:
            used = cpu_seconds(delivery.pid)
            result["deliverer_cpu_us_per_message"] = 1e6 * used / max(1, result["sent"])
            result["attempts"] = _attempts(delivery.url + "/metrics")
            self.procs.stop(delivery.process)
        elif "MESSAGING_WEBHOOK_URLS" in env:
            result["attempts"] = _attempts(server.url + "/metrics")
        self.procs.stop(server.process)
        result["stored"] = scenarios.count_messages(url)
        return result

    def _webhook_runs(self, db: str) -> dict[str, Any]:
        """Inbox traffic with webhooks off, then on (a local receiver) delivered by the service
        processes, then on delivered by a ``deliver`` process: all in this one run."""
        plan = dataclasses.replace(self.plan, rates=self.plan.webhook_rates or self.plan.rates)
        _log(f"service on {db}: inbox, webhooks off")
        results = {"off": self._inbox_once(db, {}, label="webhooks-off", plan=plan)}
        for key, separate in (("on", False), ("separate", True)):
            _log(f"service on {db}: inbox, webhooks on ({'deliver process' if separate else 'inline'})")
            results[key] = self._webhooks_on(db, plan, separate=separate)
        return results

    def _webhooks_on(self, db: str, plan: scenarios.Plan, *, separate: bool) -> dict[str, Any]:
        receiver = start_webhook_receiver(self.procs)
        env = {
            "MESSAGING_WEBHOOK_URLS": json.dumps([receiver.url]),
            "MESSAGING_WEBHOOK_SECRET": secrets.token_urlsafe(24),
            "MESSAGING_WEBHOOK_DELIVERY": "separate" if separate else "inline",
        }

        def drain(url: str) -> dict[str, Any]:
            events = scenarios.count_rows(url, "outbox_event")
            started = time.monotonic()
            while time.monotonic() - started < WEBHOOK_DRAIN_SECONDS:
                if receiver_count(receiver)["ids"] >= events:
                    break
                time.sleep(0.5)
            counts = receiver_count(receiver)
            return {
                "receiver_cpu_us_per_event": 1e6 * cpu_seconds(receiver.pid) / max(1, counts["received"]),
                "events": events,
                "delivered_ids": counts["ids"],
                "posts": counts["received"],
                "drain_seconds": time.monotonic() - started,
            }

        label = "webhooks-separate" if separate else "webhooks-on"
        try:
            return self._inbox_once(db, env, drain, label=label, plan=plan, deliverer=separate)
        finally:
            self.procs.stop(receiver.process)

    def run(self) -> list[str]:
        lines = ["# Benchmark results", "", *_machine(), ""]
        classic = bool(self.only & set(DEFAULT_SCENARIOS))
        lines += ["### Settings of this run", ""]
        if classic:
            lines += [*report.plan_section(self.plan, RATE_LIMIT_FOR_BENCH)[2:]]
        if "abuse" in self.only:
            lines += abuse_report.abuse_plan_section(self.abuse_plan)
        if "reconnect" in self.only:
            lines += reconnect.plan_lines(self.reconnect_plan)
        lines.append("")
        baselines = self._relay_runs() if self.baselines else {"inbox": {}, "capacity": {}}
        relays = self._reconnect_relay_runs() if self.baselines and "reconnect" in self.only else {}
        for db in self.dbs:
            service = self._service_runs(db)
            name = f"service ({db})"
            lines += [f"## {'SQLite' if db == 'sqlite' else 'PostgreSQL'}", ""]
            if "inbox" in service:
                lines += [*report.inbox_section({**baselines["inbox"], name: service["inbox"]}), ""]
                lines += [*stages.stages_section(name, service["inbox"]["steps"]), ""]
            if "capacity" in service:
                lines += [*report.capacity_section({**baselines["capacity"], name: service["capacity"]}), ""]
            if "history" in service:
                lines += [*report.history_section(service["history"]), ""]
            if "webhooks" in service:
                lines += [*report.webhooks_section(service["webhooks"]), ""]
            if classic:
                lines += [*report.targets_section(db, service, baselines), ""]
            if "abuse" in service:
                label = "SQLite, one process" if db == "sqlite" else "PostgreSQL + Redis"
                lines += [*abuse_report.abuse_section(label, service["abuse"]), ""]
            if "reconnect" in service:
                mine = f"service ({'SQLite' if db == 'sqlite' else 'PostgreSQL + Redis'})"
                runs = {**relays, mine: service["reconnect"]}
                lines += [*reconnect.reconnect_section(runs, self.reconnect_plan), ""]
                lines += [*reconnect.reconnect_targets(runs, report.PY_RELAY), ""]
        return lines


def _attempts(metrics_url: str) -> dict[str, int]:
    """Webhook attempts by outcome, from a process's /metrics."""
    prefix = 'messaging_webhook_attempts_total{outcome="'
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    return {
        line[len(prefix) :].split('"', 1)[0]: int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith(prefix)
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="a small version of everything (~2 minutes)")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a few seconds per scenario: checks the harness (numbers mean nothing)",
    )
    parser.add_argument(
        "--only",
        help=f"comma-separated subset of {','.join(SCENARIOS)} (default: {','.join(DEFAULT_SCENARIOS)})",
    )
    parser.add_argument(
        "--attacks",
        help=f"abuse: comma-separated subset of {','.join(abuse.ATTACKS)} (default: all, in that order)",
    )
    parser.add_argument("--no-baselines", action="store_true", help="skip the two relays")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy the service during inbox traffic, each abuse attack and a reconnect's restarted "
        "process (bench/results/)",
    )
    args = parser.parse_args()
    if args.only and not set(args.only.split(",")) <= set(SCENARIOS):
        parser.error(f"--only takes {','.join(SCENARIOS)}")
    if args.attacks and not set(args.attacks.split(",")) <= set(abuse.ATTACKS):
        parser.error(f"--attacks takes {','.join(abuse.ATTACKS)}")
    _raise_file_limit()
    _stop_on_sigterm()
    ensure_loadgen()
    bench = Bench(args)
    started = time.monotonic()
    try:
        lines = bench.run()
    except KeyboardInterrupt:
        _log("interrupted: cleaning up")
        return 130
    finally:
        bench.procs.stop_all()
        bench.databases.drop_all()
    lines.append(f"_Whole run: {time.monotonic() - started:.0f} s._")
    text = "\n".join(lines) + "\n"
    print(text)
    results_dir = BENCH_DIR / "results"
    results_dir.mkdir(exist_ok=True)
    path = results_dir / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.md"
    path.write_text(text)
    _log(f"written to {path.relative_to(REPO_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
