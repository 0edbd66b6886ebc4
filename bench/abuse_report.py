"""The abuse scenario's results as markdown, with a verdict per attack against its targets: the
bystander's p99 within 3x its calm value, none of its messages lost, and the service's memory
growing by less than 100 MiB."""

from __future__ import annotations

from typing import Any

from abuse import ATTACKS, AbusePlan

P99_FACTOR = 3.0
RSS_GROWTH_LIMIT = 100 * 2**20

TITLES = {
    "calm": "calm (no attack)",
    "slowReader": "slow reader",
    "namespaceSpray": "namespace spray",
    "joinFlood": "join flood",
    "eventFlood": "event flood",
    "heavySearch": "heavy searches",
}


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _mib(value: float) -> str:
    return f"{value / 2**20:.0f}"


def _codes(counts: dict[str, int]) -> str:
    return ", ".join(f"{code} {count:,}" for code, count in sorted(counts.items())) or "none"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _flood(stats: dict[str, Any]) -> str:
    text = f"{stats['acked']:,} of {stats['sent']:,} acked, refused: {_codes(stats['refused'])}"
    if stats["timedOut"]:
        text += f", {stats['timedOut']:,} unanswered"
    if stats["disconnected"]:
        text += ", the sender was disconnected"
    return text


def attack_summary(name: str, attack: dict[str, Any] | None, seconds: float) -> str:
    """What the attacker did and what the service answered, in one cell."""
    if attack is None:
        return "-"
    if "failed" in attack:
        return f"the attack could not run: {attack['failed']}"
    if name == "slowReader":
        dropped = "yes" if attack["readerDisconnected"] else "no"
        return (
            f"{attack['eventBytes'] // 1000} KB events: {_flood(attack['events'])}; "
            f"the paused reader was disconnected: {dropped}"
        )
    if name == "namespaceSpray":
        return (
            f"{attack['accepted']:,} of {attack['attempted']:,} sockets accepted "
            f"({attack['stillConnected']:,} still connected at the end) in {attack['spraySeconds']:.1f} s; "
            f"refused: {_codes(attack['refused'])}; no answer: {attack['connectFailures']:,}"
        )
    if name == "joinFlood":
        return (
            f"{attack['connected']} of {attack['sockets']} sockets connected "
            f"(refused: {_codes(attack['refusedConnects'])}); {attack['joined']:,} joins "
            f"({attack['joined'] / seconds:.0f}/s), {attack['left']:,} leaves, "
            f"refused: {_codes(attack['refused'])}, {attack['timedOut']:,} unanswered"
        )
    if name == "eventFlood":
        return (
            f"typing: {_flood(attack['typing'])}; {attack['eventBytes'] // 1000} KB events: "
            f"{_flood(attack['big'])}; the peer received {attack['peerTypingPerSecond']:.0f} typing/s "
            f"and {attack['peerBytesPerSecond'] / 1e6:.1f} MB/s"
        )
    if name == "heavySearch":
        shape = attack["shape"]
        if shape is None:
            return f"every search shape was refused: {_codes(attack['statuses'])}"
        searches = attack["searches"]
        return (
            f"{attack['concurrency']} in flight, {shape['values']} values of {shape['length']} "
            f"characters; answers: {_codes(attack['statuses'])}; a search took p50 "
            f"{_ms(searches['p50'])} ms, max {_ms(searches['max'])} ms; "
            f"{attack['aborted']:,} cut off at the end"
        )
    return str(attack)


def _loop_delay(delay: dict[str, float] | None) -> str:
    return "-" if delay is None else f"{delay['p99']:.1f} / {delay['max']:.1f}"


def verdict(phase: dict[str, Any], calm_p99: float | None) -> tuple[str, float | None]:
    """("met"/"not met: why", the p99's ratio to calm)."""
    bystander = phase["bystander"]
    p99 = bystander["latency"]["p99"]
    ratio = p99 / calm_p99 if p99 is not None and calm_p99 else None
    growth = phase["rss_peak"] - phase["rss_before"]
    misses = []
    if phase["attack"] is not None and "failed" in phase["attack"]:
        misses.append("the attack did not run")
    if ratio is None or ratio > P99_FACTOR:
        misses.append(f"p99 over {P99_FACTOR:g}x calm")
    if bystander["lost"] or bystander["errors"] or bystander["disconnects"]:
        misses.append("bystander messages lost or refused")
    if growth >= RSS_GROWTH_LIMIT:
        misses.append("RSS grew 100 MiB or more")
    return ("met" if not misses else "not met: " + "; ".join(misses)), ratio


def abuse_section(label: str, phases: list[dict[str, Any]]) -> list[str]:
    lines = [f"### Abuse ({label})", ""]
    calm = next((p for p in phases if p["name"] == "calm"), None)
    calm_p99 = calm["bystander"]["latency"]["p99"] if calm else None
    rows = []
    for phase in phases:
        bystander = phase["bystander"]
        latency = bystander["latency"]
        result, ratio = verdict(phase, calm_p99)
        rows.append(
            [
                TITLES.get(phase["name"], phase["name"]),
                f"{bystander['arrived']:,} / {bystander['sent']:,}",
                _ms(latency["p50"]),
                _ms(latency["p99"]),
                "-" if ratio is None else f"{ratio:.1f}x",
                f"{_mib(phase['rss_before'])} → {_mib(phase['rss_peak'])} → {_mib(phase['rss_end'])}",
                f"{(phase['rss_peak'] - phase['rss_before']) / 2**20:+.0f}",
                f"{phase['cpu_seconds']:.1f} / {phase['load_cpu_seconds']:.1f} / {phase['wall_seconds']:.0f}",
                _loop_delay(bystander.get("loopDelay")),
                "-" if phase["name"] == "calm" else result,
            ]
        )
    lines += _table(
        [
            "phase",
            "bystander arrived / sent",
            "p50 ms",
            "p99 ms",
            "p99 vs calm",
            "RSS MiB before → peak → end",
            "RSS growth MiB",
            "CPU s: service / load generator / wall",
            "load generator's event loop late p99 / max ms",
            "verdict",
        ],
        rows,
    )
    lines += [
        "",
        "The attackers and the bystander share one Node process: where its CPU comes near the wall "
        "time, or its event loop ran late, the bystander's latencies include that process's own "
        "queueing (an arrival is timestamped when the loop gets to it).",
    ]
    lines += ["", "What each attack did and what the service answered:", ""]
    for phase in phases:
        if phase["name"] == "calm":
            continue
        summary = attack_summary(phase["name"], phase["attack"], phase["seconds"])
        counters = ", ".join(f"`{name}` +{value:,.0f}" for name, value in sorted(phase["counters"].items()))
        logged = ", ".join(f"{level} {count:,}" for level, count in sorted(phase["log_lines"].items()))
        peak = phase.get("gauges", {}).get("messaging_hub_outgoing_buffer_peak_bytes")
        if phase["name"] == "slowReader" and peak is not None:
            summary += f"; the most bytes one socket had waiting since the start: {peak / 2**20:.1f} MiB"
        slowest = phase["bystander"].get("slowest") or []
        if slowest:
            summary += "; the bystander's slowest messages (sent at, took): " + ", ".join(
                f"{at / 1000:.1f} s: {took:.0f} ms" for at, took in slowest
            )
        lines.append(f"- **{TITLES[phase['name']]}**: {summary}.")
        lines.append(f"  Counters that moved: {counters or 'none'}. Lines logged: {logged or 'none'}.")
    return lines


def abuse_plan_section(plan: AbusePlan) -> list[str]:
    chosen = [] if plan.attacks == tuple(ATTACKS) else [f"- Abuse: only {', '.join(plan.attacks)}."]
    return [
        *chosen,
        f"- Abuse: a bystander pair sends {plan.bystander_rate} messages a second (alternating) in "
        f"their own room; {plan.calm_seconds:g} s calm, then each attack for {plan.attack_seconds:g} s "
        f"(+ up to {plan.drain_seconds:g} s for the bystander's last messages, {plan.cooldown_seconds:g} s "
        f"pause). Slow reader and event flood: {plan.event_bytes // 1000} KB custom events, "
        f"{plan.events_in_flight} in flight per socket; namespace spray: {plan.spray_sockets:,} sockets "
        f"of one user, {plan.spray_concurrency} connecting at a time; join flood: {plan.join_sockets} "
        f"sockets of one user, each joining and leaving a room of {plan.join_room_messages} messages; "
        f"heavy searches: {plan.search_concurrency} concurrent searches by one student over "
        f"{plan.search_messages:,} of their messages. Service RSS sampled every 100 ms. Targets: "
        f"p99 ≤ {P99_FACTOR:g}x calm, no bystander message lost, RSS growth < 100 MiB.",
    ]
