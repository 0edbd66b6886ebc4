"""The shape of a hub definition: everything a hub's rules are, as data.

The generic engine (``hub.engine``) reads a ``HubDefinition``; the chat hub (``hub.chat``) is one
instance. A second hub would be another instance, not another copy of the engine.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# "url": an absolute http(s) URL, the only kind a client may safely render as a link or image.
FieldKind = Literal["text", "string", "integer", "json", "id", "url"]
ALL_TYPES: Literal["all"] = "all"


@dataclass(frozen=True)
class Condition:
    """``room[field] <op> value``: the only kind of condition the guides' hubs use."""

    field: str
    op: Literal["==", "!="]
    value: Any

    def holds(self, room: Mapping[str, Any]) -> bool:
        actual = room.get(self.field)
        return bool(actual == self.value) if self.op == "==" else bool(actual != self.value)


@dataclass(frozen=True)
class ContentField:
    name: str
    kind: FieldKind
    required: bool = False
    choices: tuple[str, ...] | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class MessageType:
    name: str
    fields: tuple[ContentField, ...]
    # How the inbox previews a message of this type; ``{field}`` is replaced by the content's value.
    preview: str


@dataclass(frozen=True)
class RolePermissions:
    read: bool
    send: bool
    allowed_types: frozenset[str] | Literal["all"] = "all"
    moderated: bool = False
    moderate: bool = False
    delete_any: bool = False
    manage_room: bool = False

    def may_send_type(self, message_type: str) -> bool:
        return self.send and (self.allowed_types == ALL_TYPES or message_type in self.allowed_types)


@dataclass(frozen=True)
class AuthorizationSource:
    """The caller gets ``hub_role`` when ``room[room_user_field] == caller`` and ``condition`` holds."""

    name: str
    room_user_field: str
    hub_role: str
    condition: Condition | None = None


@dataclass(frozen=True)
class Budget:
    """At most ``count`` events, and ``bytes`` of their payload when set, per window."""

    count: int
    bytes: int | None = None


@dataclass(frozen=True)
class ScopedBudget:
    """The same kind of event budgeted per user (all their sockets, on every process) and per socket."""

    per_user: Budget
    per_socket: Budget


@dataclass(frozen=True)
class HubBudgets:
    """What one user or socket may do per ``window_seconds``, by kind of client event: ``join``
    (joins and leaves), ``event`` (the hub's standard events) and ``custom`` (any other relayed
    event); how many sockets one user may hold open and open per window; and how many refusals
    one socket may collect per window before it is disconnected. A kind without a budget, or a
    bound left None, is unlimited."""

    window_seconds: float = 10.0
    kinds: Mapping[str, ScopedBudget] = field(default_factory=dict)
    sockets_per_user: int | None = None
    connects_per_user: int | None = None
    refusals_per_socket: int | None = None
    standard_event_refusals_per_socket: int | None = None


@dataclass(frozen=True)
class HubDefinition:
    name: str
    room_object: str
    eligibility: Condition
    absolute_roles: frozenset[str]
    absolute_hub_role: str
    authorization_sources: tuple[AuthorizationSource, ...]
    roles: Mapping[str, RolePermissions]
    message_types: Mapping[str, MessageType]
    # Events a client may relay with hub:event; anything else matching the name rule is custom.
    standard_events: frozenset[str] = field(default_factory=frozenset)
    # Events whose relay needs only read permission (and that are persisted as read state).
    read_events: frozenset[str] = field(default_factory=frozenset)
    # Standard events whose data has a fixed shape: only these keys of ``data`` are relayed (others
    # are dropped), and ``data`` may not exceed ``fixed_event_max_bytes``. Custom events relay
    # their data as given, up to the message size limit.
    event_keys: Mapping[str, frozenset[str]] = field(default_factory=dict)
    fixed_event_max_bytes: int = 1024
    # Budgets of client events and sockets (the service fills the numbers from its settings).
    budgets: HubBudgets = field(default_factory=HubBudgets)

    def event_data_limit(self, event: str, custom_limit: int) -> int:
        return self.fixed_event_max_bytes if event in self.event_keys else custom_limit

    def relayed_data(self, event: str, data: Mapping[str, Any]) -> dict[str, Any]:
        keys = self.event_keys.get(event)
        if keys is None:
            return dict(data)
        return {key: value for key, value in data.items() if key in keys}

    @property
    def namespace_suffix(self) -> str:
        return f"/hub/{self.name}"
