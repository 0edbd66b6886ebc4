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
LOG_LINES_DROPPED = Counter(
    "messaging_log_lines_dropped_total", "Log lines dropped because the log queue was full (a stalled reader)"
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
# Service calls made with an Idempotency-Key: stored (did the work), replayed, reused (409),
# refused (malformed or too long: 400); and expired keys deleted.
IDEMPOTENCY_KEYS = Counter(
    "messaging_idempotency_keys_total", "Service calls with an Idempotency-Key, by outcome", ["outcome"]
)
IDEMPOTENCY_KEYS_PRUNED = Counter(
    "messaging_idempotency_keys_pruned_total", "Expired idempotency keys deleted"
)

# Hardening against hostile clients: each counts a limit or a refusal when it fires.
FOREIGN_COOKIES_IGNORED = Counter(
    "messaging_foreign_origin_cookies_ignored_total",
    "Requests whose access-token cookie was ignored because they came from a foreign browser origin",
)
SEND_BUFFER_BYTES = Gauge(
    "messaging_hub_outgoing_buffered_bytes", "Bytes waiting to be written to this process's sockets"
)
SEND_BUFFER_PEAK_BYTES = Gauge(
    "messaging_hub_outgoing_buffer_peak_bytes", "Most bytes one socket has had waiting since the start"
)
SLOW_SOCKETS_DISCONNECTED = Counter(
    "messaging_hub_slow_sockets_disconnected_total",
    "Sockets disconnected because their outgoing buffer went over its bound (they stopped reading)",
)
MALFORMED_TRANSPORTS_CLOSED = Counter(
    "messaging_hub_malformed_transports_closed_total",
    "Transports closed because they sent a packet that could not be decoded",
)
CONNECT_TIMEOUTS = Counter(
    "messaging_hub_connect_timeouts_total",
    "Transports closed because they connected to no namespace within the connect timeout",
)
UNKNOWN_NAMESPACES_REFUSED = Counter(
    "messaging_hub_unknown_namespaces_refused_total",
    "Socket.IO connects to a namespace the hub does not serve",
)
SOCKETS_CREDENTIALS_ENDED = Counter(
    "messaging_hub_sockets_credentials_ended_total",
    "Open sockets closed because their token expired or their session was deleted",
    ["reason"],
)
HTTP_READ_TIMEOUTS = Counter(
    "messaging_http_read_timeouts_total",
    "Connections closed because a request's headers or body did not arrive in time",
    ["stage"],
)
FLOODING_SOCKETS_DISCONNECTED = Counter(
    "messaging_hub_flooding_sockets_disconnected_total",
    "Sockets disconnected because they kept sending after being refused (HUB_REFUSALS_PER_SOCKET)",
)
BUDGET_REFUSALS = Counter(
    "messaging_hub_budget_refusals_total",
    "Client events and connections refused by a hub budget",
    ["budget", "scope", "measure"],
)
SEARCH_REFUSALS = Counter(
    "messaging_search_refusals_total",
    "Message searches refused: too many or too long filter values, too many at once, over the user's "
    "search time, too slow, or no search connection free in time",
    ["reason"],
)
HTTP_ERRORS = Counter(
    "messaging_http_errors_total", "REST error answers by status and code", ["status", "code"]
)

# Where a hub:send's time goes, to find the causes of its latency tail (docs/performance.md).
_STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SEND_STAGE = Histogram(
    "messaging_hub_send_stage_seconds",
    "Stages of a stored hub:send: wait (received until its group commit starts), store (the "
    "group's checks, writes and COMMIT), broadcast (the group's broadcasts after the commit), "
    "ack (from there until the send's own handler resumes)",
    ["stage"],
    buckets=_STAGE_BUCKETS,
)
SEND_BATCH_SIZE = Histogram(
    "messaging_hub_send_batch_size",
    "Sends per group commit of hub:send",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200),
)
EVENT_LOOP_LAG = Histogram(
    "messaging_event_loop_lag_seconds",
    "How late the event loop woke a timer (sampled every 50 ms): the stall every task saw then",
    buckets=_STAGE_BUCKETS,
)
GC_PAUSES = Histogram(
    "messaging_gc_pause_seconds",
    "Cyclic garbage collections of the event loop's process, by generation",
    ["generation"],
    buckets=_STAGE_BUCKETS,
)
SQLITE_LOCK_WAITS = Counter(
    "messaging_sqlite_lock_waits_total",
    "SQLite calls that found another process holding the lock, and waited for it off the event loop",
)
WAL_CHECKPOINTS = Histogram(
    "messaging_sqlite_checkpoint_seconds",
    "SQLite WAL checkpoints: catch-up (beside the writer) and finish (holding the writer)",
    ["step"],
    buckets=_STAGE_BUCKETS,
)
