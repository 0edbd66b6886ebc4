"""The results as markdown tables, and the targets of BENCHMARKS.md checked against them."""

from __future__ import annotations

from typing import Any

from scenarios import Plan, sustained

PY_RELAY = "python-socketio relay"
PY_RELAY_GC = "python-socketio relay, GC tuned"
NODE_RELAY = "Node socket.io relay"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _verdict(step: dict[str, Any]) -> str:
    """Whether a ladder step counts toward the sustained rate, and if not, why: delivery can keep
    pace with the offered load while the latency bound fails."""
    slow = step["p99"] is None or step["p99"] > 100.0
    if step["keptUp"] and not slow:
        return "yes"
    if step["keptUp"]:
        return "no: p99 over 100 ms"
    return "no: delivery fell behind" if not slow else "no: both"


def inbox_section(results: dict[str, dict[str, Any]]) -> list[str]:
    """``results``: system name -> run_inbox result (plus ``stored`` for the service)."""
    lines = ["### Inbox traffic: offered load ladder", ""]
    rows = []
    for name, result in results.items():
        for step in result["steps"]:
            rows.append(
                [
                    name,
                    f"{step['rate']} (again)" if step.get("again") else str(step["rate"]),
                    f"{step['deliveredPerSecond']:.0f}",
                    _ms(step["p50"]),
                    _ms(step["p99"]),
                    "yes" if step["keptUp"] else "no",
                    _verdict(step),
                    str(step["errors"]),
                ]
            )
    lines += _table(
        [
            "system",
            "offered msg/s",
            "delivered msg/s",
            "p50 ms",
            "p99 ms",
            "delivery kept up",
            "step passed (p99 ≤ 100 ms and delivery kept up)",
            "hub:error",
        ],
        rows,
    )
    lines += ["", "### Inbox traffic: sustained rate (p99 ≤ 100 ms, delivery kept up)", ""]
    baselines = [
        sustained(results[name]["steps"]) if name in results else None for name in (PY_RELAY, PY_RELAY_GC)
    ]
    rows = []
    for name, result in results.items():
        best = sustained(result["steps"])
        rate = best["deliveredPerSecond"] if best else 0.0
        ratios = [f"{rate / b['deliveredPerSecond']:.2f}x" if b and best else "-" for b in baselines]
        stored = result.get("stored")
        delivered = sum(step["delivered"] for step in result["steps"])
        durability = (
            "-"
            if stored is None
            else f"{result['sent']:,} sent, {stored:,} stored, {delivered:,} delivered to the peer"
        )
        rows.append(
            [
                name,
                f"{rate:.0f}",
                _ms(best["p50"] if best else None),
                _ms(best["p99"] if best else None),
                *ratios,
                f"{result['cpu_us_per_message']:.0f}",
                durability,
            ]
        )
    lines += _table(
        [
            "system",
            "sustained msg/s",
            "p50 ms",
            "p99 ms",
            "vs python relay",
            "vs python relay, GC tuned",
            "server CPU µs per message (whole ladder)",
            "whole ladder",
        ],
        rows,
    )
    return lines


def capacity_section(results: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["### Capacity: idle authenticated sockets, each joined to a 2-user room", ""]
    rows = [
        [
            name,
            f"{r['sockets']:,}",
            f"{r['rss_warm'] / 2**20:.0f}",
            f"{r['rss_loaded'] / 2**20:.0f}",
            f"{r['bytes_per_socket'] / 1024:.1f}",
            f"{r['connect_per_second']:.0f}",
            f"{r['join_per_second']:.0f}",
        ]
        for name, r in results.items()
    ]
    lines += _table(
        ["system", "sockets", "RSS warm MiB", "RSS loaded MiB", "KB per socket", "connects/s", "joins/s"],
        rows,
    )
    return lines


def history_section(results: list[dict[str, Any]]) -> list[str]:
    lines = ["### History at scale: one user with 100 conversations", ""]
    rows = [
        [
            f"{r['messages']:,}",
            f"{r['rooms']:,}",
            f"{r['join']['count']}",
            _ms(r["join"]["p50"]),
            _ms(r["join"]["p99"]),
            f"{r['historyMessagesPerJoin']:.0f}",
            f"{r['inbox']['count']}",
            _ms(r["inbox"]["p50"]),
            _ms(r["inbox"]["p99"]),
            f"{r['inboxConversations']} / {r['inboxUnread']}",
            f"{r['seed_seconds']:.0f}",
        ]
        for r in results
    ]
    lines += _table(
        [
            "stored messages",
            "rooms",
            "joins",
            "join→history p50 ms",
            "p99 ms",
            "msgs per history",
            "inbox calls",
            "inbox p50 ms",
            "p99 ms",
            "conversations / unread",
            "seed s",
        ],
        rows,
    )
    return lines


def webhooks_section(results: dict[str, Any]) -> list[str]:
    """``results``: {"off": run_inbox result, "on": the same with webhooks on, plus drain counts,
    "separate": the same with a ``deliver`` process sending them}."""
    lines = ["### Inbox traffic with webhooks on and off (one run, fresh databases)", ""]
    labels = {
        "off": "webhooks off",
        "on": "webhooks on, sent by the service process",
        "separate": "webhooks on, sent by a `deliver` process",
    }
    rows = []
    rates = {}
    for key, label in labels.items():
        if key not in results:
            continue
        result = results[key]
        best = sustained(result["steps"])
        rates[key] = best["deliveredPerSecond"] if best else 0.0
        deliverer = result.get("deliverer_cpu_us_per_message")
        rows.append(
            [
                label,
                f"{rates[key]:.0f}",
                _ms(best["p50"] if best else None),
                _ms(best["p99"] if best else None),
                f"{result['cpu_us_per_message']:.0f}",
                f"{deliverer:.0f}" if deliverer is not None else "-",
            ]
        )
    lines += _table(
        [
            "service",
            "sustained msg/s",
            "p50 ms",
            "p99 ms",
            "service CPU µs per message (whole ladder)",
            "`deliver` CPU µs per message",
        ],
        rows,
    )
    ladder = results["off"].get("rates") or []
    step = f"{ladder[1] / ladder[0]:.2f}" if len(ladder) > 1 else "-"
    lines += [
        "",
        f"- Offered rates: {ladder[0] if ladder else '-'} to {ladder[-1] if ladder else '-'} msg/s, each "
        f"step {step}x the previous one (a ratio is only as fine as that).",
    ]
    for key in ("on", "separate"):
        if key not in results:
            continue
        ratio = rates[key] / rates["off"] if rates["off"] else 0.0
        on = results[key]
        lines += [
            f"- {labels[key]}: ratio to off **{ratio:.2f}x** (target ≥ 0.9x: "
            f"{'met' if ratio >= 0.9 else 'not met'}); events written: {on['events']:,}, distinct "
            f"events the receiver got: {on['delivered_ids']:,} ({on['posts']:,} POSTs), "
            f"{on['drain_seconds']:.0f} s after the ladder ended (the receiver's CPU: "
            f"{on.get('receiver_cpu_us_per_event', 0):.0f} µs per POST); attempts by outcome: "
            f"{', '.join(f'{k} {v:,}' for k, v in sorted(on.get('attempts', {}).items())) or '-'}.",
        ]
    lines += ["", *_webhook_steps(results, labels)]
    return lines


def _webhook_steps(results: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """Each ladder's steps side by side: delivered rate, p99, and how much of a core the service
    (and the ``deliver`` process) used, so a saturated process can be told from a waiting one."""
    keys = [key for key in labels if key in results]
    cells: dict[tuple[int, str], str] = {}
    for key in keys:
        for step in results[key]["steps"]:
            cores = step.get("serviceCores")
            beside = step.get("besideCores")
            cell = f"{step['deliveredPerSecond']:.0f}/s, p99 {_ms(step['p99'])}"
            if cores is not None:
                cell += f", {cores:.2f}" + (f" + {beside:.2f}" if beside is not None else "") + " cores"
            if step.get("machineCores") is not None:
                cell += f" of {step['machineCores']:.2f} busy"
            if step.get("again"):
                cell += " (again)"
            previous = cells.get((step["rate"], key))
            cells[(step["rate"], key)] = f"{previous}; {cell}" if previous else cell
    offered = sorted({rate for rate, _ in cells})
    rows = [[f"{rate:,}", *(cells.get((rate, key), "") for key in keys)] for rate in offered]
    return [
        "Steps (delivered rate, p99 ms, cores used by the service + the `deliver` process during the step,"
        " of the cores the whole machine kept busy: load generator, receiver and database included):",
        "",
        *_table(["offered msg/s", *(labels[key] for key in keys)], rows),
    ]


def _passed_the_top(steps: list[dict[str, Any]]) -> bool:
    """The last step passed, so the ladder ran out of rungs before the server failed one."""
    return sustained(steps[-1:]) is not None


def targets_section(db: str, service: dict[str, Any], baselines: dict[str, dict[str, Any]]) -> list[str]:
    lines = [f"### Targets ({db})", ""]
    rows = []
    mine = sustained(service["inbox"]["steps"]) if "inbox" in service else None
    labels = (
        (PY_RELAY, "python relay as the library comes"),
        (PY_RELAY_GC, "python relay with the GC tuned as `serve` tunes it"),
    )
    for name, label in labels:
        run = baselines.get("inbox", {}).get(name)
        relay = sustained(run["steps"]) if run else None
        if relay and "inbox" in service:
            ratio = (mine["deliveredPerSecond"] if mine else 0.0) / relay["deliveredPerSecond"]
            measured = f"{ratio:.2f}x"
            if _passed_the_top(run["steps"]):
                # The relay never failed: its ceiling lies above the ladder, the ratio below this.
                measured = f"≤ {measured} (the relay reached the top of the ladder)"
            rows.append([f"inbox ≥ 0.8x {label}", measured, "met" if ratio >= 0.8 else "not met"])
    if "capacity" in service:
        kb = service["capacity"]["bytes_per_socket"] / 1024
        rows.append(["≤ 50 KB per idle connection", f"{kb:.1f} KB", "met" if kb <= 50 else "not met"])
    history = service.get("history", [])
    if len(history) >= 2:
        small, large = history[0], history[-1]
        for label, key in (("join→history p99", "join"), ("inbox p99", "inbox")):
            a, b = small[key]["p99"], large[key]["p99"]
            # Flat: at most 25 % higher at the large size, or within 2 ms (the noise of a p99 read
            # from a few hundred loopback calls).
            flat = b <= a * 1.25 or b - a <= 2
            rows.append(
                [
                    f"{label} flat from {small['messages']:,} to {large['messages']:,} messages",
                    f"{a:.1f} → {b:.1f} ms",
                    "met" if flat else "not met",
                ]
            )
    lines += _table(["target", "measured", "verdict"], rows)
    return lines


def plan_section(plan: Plan, rate_limit: int) -> list[str]:
    return [
        "### Settings of this run",
        "",
        f"- Inbox: {plan.inbox_rooms} studentTutor rooms, {2 * plan.inbox_rooms} sockets; each step "
        f"{plan.warmup_seconds:g} s warm-up + {plan.measure_seconds:g} s measured (+ up to "
        f"{plan.drain_seconds:g} s drain); a step whose p99 passes {plan.max_p99_ms:g} ms or "
        'whose delivery falls behind is run once more (marked "again"), and the ladder stops when '
        "that one fails too. `MESSAGING_MESSAGE_RATE_PER_MINUTE="
        f"{rate_limit}` for the service (the default 30/min would refuse almost every message).",
        f"- Capacity: {plan.capacity_sockets:,} sockets in {plan.capacity_sockets // 2:,} rooms; memory per "
        f"socket = (RSS after all joined - RSS after the first {plan.capacity_warm}) / the rest.",
        f"- History: {plan.history_rooms:,} rooms; the user's 100 rooms each hold ≥ 60 messages (a full "
        f"50-message history page) with 5 unread; {plan.history_joins} sequential joins "
        f"(after 20 warm-up joins) and {plan.inbox_calls} sequential "
        "`GET /v1/myconversations?pageRowCount=100`.",
    ]
