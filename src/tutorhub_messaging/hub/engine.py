"""The generic hub engine: who gets which hub role in a room, read from a ``HubDefinition``.

Nothing here knows about the chat hub; ``hub.chat`` supplies the rules as data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tutorhub_messaging.hub.definition import HubDefinition, RolePermissions
from tutorhub_messaging.identity.principal import Principal


@dataclass(frozen=True, slots=True)
class RoomAccess:
    """A caller's standing in one room, as the engine resolved it."""

    room_id: str
    room: Mapping[str, Any]
    hub_role: str
    permissions: RolePermissions
    eligible: bool


class HubEngine:
    def __init__(self, definition: HubDefinition) -> None:
        self.definition = definition

    def resolve_role(self, principal: Principal, room: Mapping[str, Any]) -> str | None:
        """Absolute roles first, then the authorization sources in order; first match wins."""
        if principal.roles & self.definition.absolute_roles:
            return self.definition.absolute_hub_role
        for source in self.definition.authorization_sources:
            if room.get(source.room_user_field) != principal.user_id:
                continue
            if source.condition is None or source.condition.holds(room):
                return source.hub_role
        return None

    def participants(self, room: Mapping[str, Any]) -> tuple[str, ...]:
        """The users the authorization sources name in the room (its participants), in order."""
        found: list[str] = []
        for source in self.definition.authorization_sources:
            user = room.get(source.room_user_field)
            if isinstance(user, str) and user not in found:
                found.append(user)
        return tuple(found)

    def is_eligible(self, room: Mapping[str, Any]) -> bool:
        return self.definition.eligibility.holds(room)

    def permissions(self, hub_role: str) -> RolePermissions:
        return self.definition.roles[hub_role]

    def access(self, principal: Principal, room_id: str, room: Mapping[str, Any]) -> RoomAccess | None:
        role = self.resolve_role(principal, room)
        if role is None:
            return None
        return RoomAccess(room_id, room, role, self.permissions(role), self.is_eligible(room))
