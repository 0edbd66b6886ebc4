"""Watching for what stalls the event loop: late timers and garbage collections.

Both feed histograms of ``/metrics`` (``messaging_event_loop_lag_seconds``,
``messaging_gc_pause_seconds``), so a latency tail can be told apart: a stall every task saw
(lag), and whether a collection was behind it, or a queue in one stage of the send path
(``messaging_hub_send_stage_seconds``).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.ops.metrics import EVENT_LOOP_LAG, GC_PAUSES

LAG_SAMPLE_SECONDS = 0.05
_GENERATIONS = tuple(GC_PAUSES.labels(generation=str(generation)) for generation in range(3))


class _GcTimer:
    """A ``gc.callbacks`` entry timing each collection (a few µs per collection)."""

    def __init__(self) -> None:
        self.started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
        elif self.started:
            _GENERATIONS[info["generation"]].observe(time.perf_counter() - self.started)


_GC_TIMER = _GcTimer()


def time_garbage_collections() -> None:
    """Time every collection from now on (idempotent)."""
    if _GC_TIMER not in gc.callbacks:
        gc.callbacks.append(_GC_TIMER)


async def _sample_lag() -> None:
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LAG_SAMPLE_SECONDS
        await asyncio.sleep(LAG_SAMPLE_SECONDS)
        EVENT_LOOP_LAG.observe(max(0.0, loop.time() - due))


def install_stall_watch(context: AppContext) -> None:
    """Sample the event loop's lag while the app runs, and time garbage collections."""

    async def watch() -> None:
        time_garbage_collections()
        await _sample_lag()

    context.run_while_serving(watch)
