"""Processes the benchmark starts: the service, the two relays and the load generator.

Every process is started in its own session and registered, so ``Processes.stop_all`` (run from
``finally`` and on SIGTERM/SIGINT) ends each of them and its children, and nothing outlives the
command. Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
LOADGEN_DIR = BENCH_DIR / "loadgen"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc (no extra dependency)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time the whole machine has spent busy so far (every core, every process; idle and
    I/O wait excluded), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_http_ok(url: str, *, timeout: float, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} was not ready within {timeout:.0f} s")


@dataclass
class Processes:
    running: list[subprocess.Popen[Any]] = field(default_factory=list)

    def start(
        self, args: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, **kwargs: Any
    ) -> subprocess.Popen[Any]:
        process = subprocess.Popen(
            args,
            env={**os.environ, **(env or {})},
            cwd=cwd or REPO_DIR,
            start_new_session=True,  # Ctrl-C reaches only us; we end the children ourselves
            **kwargs,
        )
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen[Any], *, grace: float = 10.0) -> None:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(reversed(self.running)):
            self.stop(process, grace=5.0)


@dataclass
class Server:
    """A server under test: where clients reach it and which process to measure."""

    name: str
    url: str
    namespace: str
    process: subprocess.Popen[Any]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def start_service(
    procs: Processes,
    database_url: str,
    secret: str,
    extra_env: dict[str, str],
    log_path: Path | None = None,
    port: int | None = None,
) -> Server:
    """``log_path``: the service's output goes to that file instead of this command's own;
    ``port``: the one to listen on (a restart), else a free one."""
    port = port or free_port()
    env = {
        "MESSAGING_DATABASE_URL": database_url,
        "MESSAGING_JWT_SECRET": secret,
        "MESSAGING_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    args = [str(VENV_BIN / "tutorhub-messaging"), "serve", "--port", str(port), "--no-migrate"]
    if log_path is None:
        process = procs.start(args, env=env)
    else:
        with log_path.open("ab") as log_file:
            process = procs.start(args, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(url + "/health", timeout=60, process=process)
    return Server("service", url, "/hub/chat", process)


def start_deliverer(procs: Processes, database_url: str, secret: str, extra_env: dict[str, str]) -> Server:
    """``tutorhub-messaging deliver`` (webhooks sent by a process of its own), ready once its
    metrics answer."""
    port = free_port()
    env = {
        "MESSAGING_DATABASE_URL": database_url,
        "MESSAGING_JWT_SECRET": secret,
        "MESSAGING_LOG_LEVEL": "WARNING",
        **extra_env,
    }
    args = [str(VENV_BIN / "tutorhub-messaging"), "deliver", "--metrics-port", str(port)]
    process = procs.start(args, env=env)
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(url + "/metrics", timeout=60, process=process)
    return Server("deliver", url, "", process)


def start_python_relay(procs: Processes, port: int | None = None) -> Server:
    return _python_relay(procs, "python-socketio relay", [], port)


def start_gc_tuned_python_relay(procs: Processes, port: int | None = None) -> Server:
    return _python_relay(procs, "python-socketio relay, GC tuned", ["--gc-tuned"], port)


def _python_relay(procs: Processes, name: str, options: list[str], port: int | None) -> Server:
    port = port or free_port()
    process = procs.start([sys.executable, str(BENCH_DIR / "relay_py.py"), str(port), *options])
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(url + "/health", timeout=30, process=process)
    return Server(name, url, "/hub/chat", process)


def start_node_relay(procs: Processes, port: int | None = None) -> Server:
    port = port or free_port()
    process = procs.start(["node", str(LOADGEN_DIR / "relay.js"), str(port)], cwd=LOADGEN_DIR)
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(url + "/health", timeout=30, process=process)
    return Server("Node socket.io relay", url, "/hub/chat", process)


def profile_process(procs: Processes, pid: int, label: str) -> subprocess.Popen[Any]:
    """py-spy (``pip install py-spy``) sampling a process into collapsed stacks under results/."""
    results = BENCH_DIR / "results"
    results.mkdir(exist_ok=True)
    output = results / f"profile-{label}-{time.strftime('%Y%m%dT%H%M%S')}.txt"
    return procs.start(
        [
            str(VENV_BIN / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--rate",
            "200",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def finish_profile(procs: Processes, profiler: subprocess.Popen[Any]) -> None:
    """py-spy writes its output when interrupted."""
    if profiler.poll() is None:
        os.killpg(profiler.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            profiler.wait(30)
    procs.stop(profiler)


def ensure_loadgen() -> None:
    """``npm ci`` once, from the committed lock file."""
    if (LOADGEN_DIR / "node_modules" / "socket.io-client").is_dir():
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=LOADGEN_DIR, check=True)


class LoadGenerator:
    """One run of ``load.js <mode>`` (or of another script of the load generator, without a mode):
    JSON lines out; a line on stdin releases a waiting phase."""

    def __init__(
        self, procs: Processes, mode: str | None, config_path: Path, script: str = "load.js"
    ) -> None:
        self.procs = procs
        self.process = procs.start(
            ["node", str(LOADGEN_DIR / script), *([mode] if mode else []), str(config_path)],
            cwd=LOADGEN_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def records(self) -> Iterator[dict[str, Any]]:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            line = line.strip()
            if line.startswith("{"):
                yield json.loads(line)

    def next_record(self) -> dict[str, Any]:
        for record in self.records():
            return record
        raise RuntimeError(f"load generator ended early (exit {self.process.wait()})")

    def release(self) -> None:
        self.send("go")

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self, timeout: float = 120) -> None:
        code = self.process.wait(timeout)
        self.procs.running.remove(self.process)
        if code != 0:
            raise RuntimeError(f"load generator exited with {code}")


def start_webhook_receiver(procs: Processes) -> Server:
    """The Node webhook receiver (answers 204 at once, counts what it got)."""
    port = free_port()
    process = procs.start(["node", str(LOADGEN_DIR / "receiver.js"), str(port)], cwd=LOADGEN_DIR)
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(url + "/health", timeout=30, process=process)
    return Server("webhook receiver", url + "/hooks", "", process)


def receiver_count(receiver: Server) -> dict[str, int]:
    base = receiver.url.rsplit("/", 1)[0]
    with urllib.request.urlopen(base + "/count", timeout=5) as response:
        counts: dict[str, int] = json.load(response)
    return counts
