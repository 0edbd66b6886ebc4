"""Real service processes (``tutorhub-messaging serve``, and ``deliver``) for the scale-out and fault
tests."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from tests.support.live import free_port
from tests.support.users import TEST_SECRET


@dataclass
class ServiceProcess:
    env: Mapping[str, str]
    args: tuple[str, ...] = ()
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # The command and what answers 200 once it is up.
    command: tuple[str, ...] = ("serve", "--no-migrate")
    ready_path: str = "/health"

    @classmethod
    def deliver(cls, env: Mapping[str, str]) -> ServiceProcess:
        """``tutorhub-messaging deliver``, its counters served on ``url``/metrics."""
        return cls(env, command=("deliver",), ready_path="/metrics")

    async def start(self) -> None:
        environment = {
            **os.environ,
            "MESSAGING_JWT_SECRET": TEST_SECRET,
            "MESSAGING_LOG_LEVEL": "WARNING",
            **self.env,
        }
        port_option = "--port" if self.command[0] == "serve" else "--metrics-port"
        self.process = subprocess.Popen(  # noqa: ASYNC220 - started once, polled below
            [
                sys.executable,
                "-m",
                "tutorhub_messaging",
                *self.command,
                port_option,
                str(self.port),
                *self.args,
            ],
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if self.process.poll() is not None:
                    raise RuntimeError(self._output())
                try:
                    if (await client.get(self.url + self.ready_path, timeout=1)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.command[0]} did not start:\n" + self._output())

    def _output(self) -> str:
        if self.process is None or self.process.stderr is None:
            return ""
        if self.process.poll() is None:
            return "(still running)"
        return self.process.stderr.read().decode(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers run, as when a host dies."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.process is not None and self.process.stderr is not None:
            self.process.stderr.close()
