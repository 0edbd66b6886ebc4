"""The SQL statements a piece of code sends, seen at the driver's cursor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event


@contextmanager
def statements_sent(app: Any, keep: Callable[[str], bool]) -> Iterator[list[str]]:
    """Collects the statements for which ``keep`` is true, as they are sent, while the block runs."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if keep(statement):
            sent.append(statement)

    engine = app.context.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
