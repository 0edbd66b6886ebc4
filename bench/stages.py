"""Where a send's time goes, step by step of the inbox ladder: the service's stage histograms
(``messaging_hub_send_stage_seconds``), its group-commit sizes, the event loop's lag, garbage
collections and SQLite checkpoints, read from ``/metrics`` after each step and differenced.

Quantiles come from histogram buckets, so each is an upper bound: "≤ 25" means the bucket that
holds it ends at 25 ms."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

FAMILIES = (
    "messaging_hub_send_stage_seconds",
    "messaging_hub_send_batch_size",
    "messaging_event_loop_lag_seconds",
    "messaging_gc_pause_seconds",
    "messaging_sqlite_checkpoint_seconds",
)
STAGES = ("wait", "store", "broadcast", "ack")
Snapshot = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def snapshot(base_url: str) -> Snapshot | None:
    """The samples of ``FAMILIES``; None when the process serves no such metrics (a relay)."""
    try:
        with urllib.request.urlopen(base_url + "/metrics", timeout=10) as response:
            text = response.read().decode()
    except (urllib.error.URLError, OSError):
        return None
    samples: Snapshot = {}
    try:
        for family in text_string_to_metric_families(text):
            if family.name in FAMILIES:
                for sample in family.samples:
                    samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    except ValueError:  # not Prometheus text
        return None
    return samples or None


def _buckets(before: Snapshot, after: Snapshot, name: str, **labels: str) -> list[tuple[float, float]]:
    """(upper bound, cumulative count) of one histogram's growth between two snapshots."""
    rows = []
    for (sample, sample_labels), value in after.items():
        found = dict(sample_labels)
        if sample != f"{name}_bucket" or any(found.get(k) != v for k, v in labels.items()):
            continue
        bound = float(found["le"])
        rows.append((bound, value - before.get((sample, sample_labels), 0.0)))
    return sorted(rows)


def _quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    total = buckets[-1][1] if buckets else 0.0
    if total <= 0:
        return None
    for bound, cumulative in buckets:
        if cumulative >= q * total:
            return bound
    return None


def _count(buckets: list[tuple[float, float]]) -> int:
    return int(buckets[-1][1]) if buckets else 0


def step_stages(before: Snapshot, after: Snapshot) -> dict[str, Any]:
    """One ladder step's figures (seconds, counts)."""
    result: dict[str, Any] = {}
    for stage in STAGES:
        buckets = _buckets(before, after, "messaging_hub_send_stage_seconds", stage=stage)
        result[stage] = (_quantile(buckets, 0.5), _quantile(buckets, 0.99))
    sizes = _buckets(before, after, "messaging_hub_send_batch_size")
    result["batches"] = _count(sizes)
    result["batch"] = (_quantile(sizes, 0.5), _quantile(sizes, 0.99))
    lag = _buckets(before, after, "messaging_event_loop_lag_seconds")
    result["lag"] = (_quantile(lag, 0.99), _quantile(lag, 1.0))
    for generation in ("0", "1", "2"):
        pauses = _buckets(before, after, "messaging_gc_pause_seconds", generation=generation)
        result[f"gc{generation}"] = (_count(pauses), _quantile(pauses, 1.0))
    finish = _buckets(before, after, "messaging_sqlite_checkpoint_seconds", step="finish")
    result["checkpoints"] = (_count(finish), _quantile(finish, 1.0))
    return result


def _ms(value: float | None) -> str:
    return "-" if value is None else f"≤ {value * 1000:g}"


def _pair(values: tuple[float | None, float | None]) -> str:
    return f"{_ms(values[0])} / {_ms(values[1])}"


def stages_section(name: str, steps: list[dict[str, Any]]) -> list[str]:
    """A table of the service's stages per ladder step (steps carrying ``stages``)."""
    rows = [step for step in steps if step.get("stages")]
    if not rows:
        return []
    header = [
        "offered msg/s",
        "send → arrival p99 ms",
        *(f"{stage} p50 / p99 ms" for stage in STAGES),
        "group commits; sends per commit p50 / p99",
        "event loop lag p99 / max ms",
        "GC collections gen 0 / 1 / 2; longest gen 2 ms",
        "checkpoints; longest finish ms",
    ]
    lines = [f"### Where a send's time goes, {name}", "", "| " + " | ".join(header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    for step in rows:
        s = step["stages"]
        batch = s["batch"]
        cells = [
            str(step["rate"]),
            "-" if step["p99"] is None else f"{step['p99']:.1f}",
            *(_pair(s[stage]) for stage in STAGES),
            f"{s['batches']:,}; {batch[0] or 0:g} / {batch[1] or 0:g}",
            _pair(s["lag"]),
            f"{s['gc0'][0]} / {s['gc1'][0]} / {s['gc2'][0]}; {_ms(s['gc2'][1])}",
            f"{s['checkpoints'][0]}; {_ms(s['checkpoints'][1])}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Stages: wait (received until its group commit starts), store (the group's checks, writes "
        "and COMMIT), broadcast (the group's broadcasts after the commit), ack (until the send's "
        "handler runs again). Quantiles are histogram bucket bounds.",
    ]
    return lines
