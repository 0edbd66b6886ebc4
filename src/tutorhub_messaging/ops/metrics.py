"""Prometheus metrics of the service (served as text at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUEST_LATENCY = Histogram("messaging_http_request_seconds", "REST request latency", ["method"])
SOCKETS_CONNECTED = Gauge("messaging_hub_sockets_connected", "Connected hub sockets")
ROOMS_JOINED = Gauge("messaging_hub_room_memberships", "Joined (socket, room) pairs")
MESSAGES_IN = Counter("messaging_hub_messages_in_total", "Messages accepted and stored", ["via"])
MESSAGES_OUT = Counter("messaging_hub_messages_out_total", "Message deliveries to room sockets (broadcasts)")
HUB_ERRORS = Counter("messaging_hub_errors_total", "hub:error answers by code", ["code"])
SEND_TO_BROADCAST = Histogram(
    "messaging_hub_send_to_broadcast_seconds",
    "From receiving a send to handing its broadcast to the transport",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)

# Outgoing events (outbox) and their webhook deliveries.
OUTBOX_EVENTS = Counter("messaging_outbox_events_total", "Events written to the outbox")
WEBHOOK_ATTEMPTS = Counter(
    "messaging_webhook_attempts_total",
    "Webhook delivery attempts by outcome: delivered, refused (non-2xx), timeout, unreachable",
    ["outcome"],
)
WEBHOOK_DEAD_LETTERS = Counter(
    "messaging_webhook_dead_letters_total",
    "Webhook deliveries given up after the retry budget (MESSAGING_WEBHOOK_RETRY_BUDGET_SECONDS)",
)
WEBHOOK_PRUNED = Counter("messaging_outbox_pruned_total", "Delivered events and deliveries pruned")
WEBHOOK_DEAD = Gauge("messaging_webhook_dead_deliveries", "Dead-lettered webhook deliveries kept for replay")
