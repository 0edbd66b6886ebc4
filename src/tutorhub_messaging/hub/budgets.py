"""The hub's budgets: how many joins, events and bytes of events one user and one socket may send
per window, and how many sockets one user may hold open.

The numbers are data of the hub definition (``HubBudgets``); this engine only sorts a client event
into its kind and counts it. Per-user windows go through the shared rate limiter (Redis when
configured, so they hold across processes); per-socket windows stay in this process, where the
socket lives. A refusal is ``RATE_LIMITED`` and is counted in ``/metrics``.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from tutorhub_messaging.errors import RateLimited
from tutorhub_messaging.hub.definition import Budget, HubBudgets, HubDefinition, ScopedBudget
from tutorhub_messaging.hub.protocol import EVENT, JOIN, LEAVE
from tutorhub_messaging.hub.ratelimit import InMemoryRateLimiter, RateLimiter, Window
from tutorhub_messaging.hub.state import HubState
from tutorhub_messaging.ops.metrics import BUDGET_REFUSALS
from tutorhub_messaging.settings import Settings

log = logging.getLogger(__name__)

JOINS = "join"
EVENTS = "event"
CUSTOM_EVENTS = "custom"
CONNECTS = "connects"
REFUSALS = "refused"
ENVELOPE_BYTES = 512  # roomId, event name and JSON punctuation around an event's data
_WHAT = {JOINS: "joins and leaves", EVENTS: "events", CUSTOM_EVENTS: "custom events"}


def budgets_from(settings: Settings) -> HubBudgets:
    return HubBudgets(
        window_seconds=float(settings.hub_budget_window_seconds),
        kinds={
            JOINS: ScopedBudget(Budget(settings.hub_joins_per_user), Budget(settings.hub_joins_per_socket)),
            EVENTS: ScopedBudget(
                Budget(settings.hub_events_per_user, settings.hub_event_bytes_per_user),
                Budget(settings.hub_events_per_socket, settings.hub_event_bytes_per_socket),
            ),
            CUSTOM_EVENTS: ScopedBudget(
                Budget(settings.hub_custom_events_per_user, settings.hub_custom_event_bytes_per_user),
                Budget(settings.hub_custom_events_per_socket, settings.hub_custom_event_bytes_per_socket),
            ),
        },
        sockets_per_user=settings.hub_sockets_per_user,
        connects_per_user=settings.hub_connects_per_user,
        refusals_per_socket=settings.hub_refusals_per_socket,
        standard_event_refusals_per_socket=settings.hub_standard_event_refusals_per_socket,
    )


def kind_of(definition: HubDefinition, event: Any, data: Any) -> str | None:
    if event in (JOIN, LEAVE):
        return JOINS
    if event == EVENT:
        name = data.get("event") if isinstance(data, dict) else None
        return EVENTS if isinstance(name, str) and name in definition.standard_events else CUSTOM_EVENTS
    return None  # hub:send has the message rate; moderation is for the system role


def _size(data: Any) -> int:
    try:
        return len(orjson.dumps(data))
    except (orjson.JSONEncodeError, TypeError):
        return 0  # not JSON: the event's own parser refuses it


class HubBudgeter:
    def __init__(self, definition: HubDefinition, shared: RateLimiter, max_event_bytes: int) -> None:
        self.budgets = definition.budgets
        self.definition = definition
        self.shared = shared
        self.max_event_bytes = max_event_bytes
        self.local = InMemoryRateLimiter(1)

    def _cost(self, data: Any) -> int:
        """An event's size, at most its size limit (plus the envelope): an oversized event is
        refused as too large by its parser, not as over a bytes budget."""
        name = data.get("event") if isinstance(data, dict) else None
        limit = self.definition.event_data_limit(name if isinstance(name, str) else "", self.max_event_bytes)
        return min(_size(data), limit + ENVELOPE_BYTES)

    async def check_event(self, user_id: str, sid: str, event: Any, data: Any) -> None:
        """Count a client event against its socket's and its user's budgets, or refuse it."""
        kind = kind_of(self.definition, event, data)
        scoped = self.budgets.kinds.get(kind) if kind is not None else None
        if scoped is None:
            return
        assert kind is not None
        size = self._cost(data) if kind != JOINS else 0
        seconds = self.budgets.window_seconds
        socket_ok = self._take_local(f"{kind}:{sid}", scoped.per_socket, seconds, size)
        if socket_ok is not None:
            self._refuse(kind, "socket", socket_ok, scoped.per_socket)
        user_ok = await self._take_shared(f"budget:{kind}:{user_id}", scoped.per_user, seconds, size)
        if user_ok is not None:
            self._refuse(kind, "user", user_ok, scoped.per_user)

    def _take_local(self, key: str, budget: Budget, seconds: float, size: int) -> str | None:
        if not self.local.take_now(key, Window(budget.count, seconds)):
            return "count"
        if budget.bytes is not None and not self.local.take_now(
            key + ":bytes", Window(budget.bytes, seconds), size
        ):
            return "bytes"
        return None

    async def _take_shared(self, key: str, budget: Budget, seconds: float, size: int) -> str | None:
        if not await self.shared.take(key, Window(budget.count, seconds)):
            return "count"
        if budget.bytes is not None and not await self.shared.take(
            key + ":bytes", Window(budget.bytes, seconds), size
        ):
            return "bytes"
        return None

    def _refuse(self, kind: str, scope: str, measure: str, budget: Budget) -> None:
        BUDGET_REFUSALS.labels(budget=kind, scope=scope, measure=measure).inc()
        seconds = f"{self.budgets.window_seconds:g}"
        limit = (
            f"{budget.bytes} bytes of {_WHAT[kind]}"
            if measure == "bytes"
            else f"{budget.count} {_WHAT[kind]}"
        )
        raise RateLimited(f"Rate limit: at most {limit} per {seconds} s per {scope}")

    def is_standard_event(self, event: Any, data: Any) -> bool:
        """``hub:event`` with one of the hub's standard events (``typing``, ``stopTyping``, ...)."""
        return kind_of(self.definition, event, data) == EVENTS

    def forget_socket(self, sid: str) -> None:
        for kind in self.budgets.kinds:
            self.local.forget(f"{kind}:{sid}")
            self.local.forget(f"{kind}:{sid}:bytes")
        self.local.forget(f"{REFUSALS}:{sid}")
        self.local.forget(f"{REFUSALS}:{EVENTS}:{sid}")

    def over_refusals(self, sid: str, *, lenient: bool = False) -> str | None:
        """Count one refusal of a socket; past its bound, why the socket is being disconnected.

        Counted in this process, where the socket lives: refusing a flood event by event costs
        the process more than the flood costs the client, so a socket that keeps sending after
        being refused is closed instead. Refused standard events have a bound of their own, far
        higher (``lenient``): a client that emits ``typing`` on every keypress outruns their budget
        while someone types fast, and one that sends the messages it queued while offline outruns
        the message rate; neither must be closed for it."""
        if lenient:
            limit, key = self.budgets.standard_event_refusals_per_socket, f"{REFUSALS}:{EVENTS}:{sid}"
        else:
            limit, key = self.budgets.refusals_per_socket, f"{REFUSALS}:{sid}"
        if limit is None or self.local.take_now(key, Window(limit, self.budgets.window_seconds)):
            return None
        return (
            f"Rate limit: more than {limit} refused events in {self.budgets.window_seconds:g} s; "
            "disconnecting"
        )

    async def connects_refusal(self, user_id: str) -> str | None:
        """Why this user may not connect another socket now, if they may not (per window, on
        every process): a client that reconnects at once after each disconnect is refused here,
        before its socket is registered anywhere."""
        limit = self.budgets.connects_per_user
        if limit is None:
            return None
        window = Window(limit, self.budgets.window_seconds)
        if await self.shared.take(f"budget:{CONNECTS}:{user_id}", window):
            return None
        BUDGET_REFUSALS.labels(budget=CONNECTS, scope="user", measure="count").inc()
        return (
            f"Too many connections: at most {limit} connects per {self.budgets.window_seconds:g} s per user"
        )

    async def sockets_refusal(self, state: HubState, user_id: str) -> str | None:
        """Why this user may not open another socket, if they may not (counted on every process)."""
        limit = self.budgets.sockets_per_user
        if limit is None:
            return None
        try:
            open_sockets = len(await state.sockets_of(user_id))
        except Exception:
            # The hub state is unreachable: registering the socket fails next, with its own answer.
            log.warning("could not count a user's sockets at connect", exc_info=True)
            return None
        if open_sockets < limit:
            return None
        BUDGET_REFUSALS.labels(budget="sockets", scope="user", measure="count").inc()
        return f"Too many connections: at most {limit} sockets per user"
