"""Stopping a micro-batcher's drainer as a stopping process does: by cancelling its task."""

from __future__ import annotations

import asyncio


def cancel_drainer(name: str) -> None:
    """Cancels the running drainer of the ``MicroBatcher`` called ``name`` (its task is named
    ``"<name> batches"``), whether or not its coroutine has begun."""
    drainers = [task for task in asyncio.all_tasks() if task.get_name() == f"{name} batches"]
    assert len(drainers) == 1, drainers
    drainers[0].cancel()
