"""Log lines are JSON, carry the request id, and never carry a token."""

from __future__ import annotations

import logging

import orjson

from tutorhub_messaging.logs import JsonFormatter, request_id_var


def test_log_line_is_json_with_request_id() -> None:
    token = request_id_var.set("req-42")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("world",), None)
        line = orjson.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "hello world"
    assert line["requestId"] == "req-42"
    assert line["level"] == "info"


def test_tokens_in_logged_urls_are_redacted() -> None:
    message = '127.0.0.1 - "WebSocket /socket.io/?EIO=4&access_token=eyJhbGciOi.secret.sig&t=1" [accepted]'
    record = logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, message, (), None)
    line = JsonFormatter().format(record)
    assert "eyJhbGciOi" not in line
    assert "access_token=[redacted]" in line
