"""JSON logging: one object per line, with the current request id and user id.

Token contents never reach a log line: handlers log ids and codes, not payloads or headers.

Lines are formatted where they are logged (so they carry that request's ids) and then wait in a
bounded queue; one thread writes them to stderr. A log reader that stops reading (a stalled
collector, a full pipe) then blocks only that thread: the service keeps answering, and lines that
find the queue full are dropped and counted (``messaging_log_lines_dropped_total``).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import logging.handlers
import queue
import re
import sys
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

import orjson

from tutorhub_messaging.ops.metrics import LOG_LINES_DROPPED

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
user_id_var: ContextVar[str | None] = ContextVar("user_id", default=None)

_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "taskName",
    "color_message",
}
# Tokens may ride in a URL (``access_token`` query) that a server library logs: never keep them.
_SECRET_IN_TEXT = re.compile(
    r"(access_token|token|authorization|password|secret)=([^&\s\"']+)", re.IGNORECASE
)
DEFAULT_QUEUE_LINES = 10_000
# How long the last lines may take to reach stderr when the process exits.
FLUSH_SECONDS = 2.0


def redact(text: str) -> str:
    return _SECRET_IN_TEXT.sub(r"\1=[redacted]", text)


def redact_url(url: str) -> str:
    """A database or Redis URL fit for a log line: the password (in the netloc or query) hidden."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "[unparsable URL]"
    if password is None:
        return redact(url)
    host = parts.netloc.rsplit("@", 1)[1]
    return redact(urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}")))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if (request_id := request_id_var.get()) is not None:
            entry["requestId"] = request_id
        if (user_id := user_id_var.get()) is not None:
            entry["userId"] = user_id
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


class LibraryNames(logging.Filter):
    """uvicorn logs its ordinary news (startup, each websocket opened and closed) at INFO under
    ``uvicorn.error``. Those lines are renamed ``uvicorn`` and shown at DEBUG only; the service
    logs its own startup line. uvicorn's warnings and errors keep their level."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.error":
            record.name = "uvicorn"
            if record.levelno < logging.WARNING:
                record.levelno, record.levelname = logging.DEBUG, "DEBUG"
                return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


class DroppingQueueHandler(logging.handlers.QueueHandler):
    """Formats a record where it was logged, then queues the line without ever waiting."""

    def enqueue(self, record: logging.LogRecord) -> None:
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            LOG_LINES_DROPPED.inc()

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        line = self.format(record)
        prepared = logging.makeLogRecord({"msg": line, "levelno": record.levelno, "name": record.name})
        return prepared


class _Writer(logging.handlers.QueueListener):
    def __init__(self, lines: queue.Queue[logging.LogRecord], handler: logging.Handler) -> None:
        super().__init__(lines, handler)
        self.lines = lines

    def stop(self) -> None:
        """Flush what is queued, but never wait long on a reader that has stopped reading."""
        thread: Any = getattr(self, "_thread", None)
        if thread is None:
            return
        with contextlib.suppress(queue.Full):
            self.lines.put(self._sentinel, timeout=FLUSH_SECONDS)  # type: ignore[attr-defined]
        thread.join(FLUSH_SECONDS)
        self._thread = None


_writer: _Writer | None = None


def stop_logging() -> None:
    """Write out the queued lines (bounded wait); called at exit and before reconfiguring."""
    global _writer
    if _writer is not None:
        _writer.stop()
        _writer = None


def flush_logging(timeout: float = FLUSH_SECONDS) -> None:
    """Wait (at most ``timeout``) until every queued line is written: at shutdown, since a process
    ended by a signal does not run its exit handlers."""
    writer = _writer
    if writer is None:
        return
    deadline = time.monotonic() + timeout
    with writer.lines.all_tasks_done:
        while writer.lines.unfinished_tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            writer.lines.all_tasks_done.wait(remaining)


def configure_logging(
    level: str = "INFO", *, queue_lines: int = DEFAULT_QUEUE_LINES, stream: TextIO | None = None
) -> None:
    global _writer
    stop_logging()
    output = logging.StreamHandler(stream if stream is not None else sys.stderr)
    output.setFormatter(logging.Formatter("%(message)s"))
    lines: queue.Queue[logging.LogRecord] = queue.Queue(maxsize=queue_lines)
    handler = DroppingQueueHandler(lines)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(LibraryNames())
    _writer = _Writer(lines, output)
    _writer.start()

    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's access log would print query strings, which may hold an access_token; the
    # service writes its own (``rest.middleware.AccessLog``).
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # engineio/socketio log packet contents (including handshake auth) at INFO.
    logging.getLogger("engineio").setLevel(logging.WARNING)
    logging.getLogger("socketio").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)


atexit.register(stop_logging)
