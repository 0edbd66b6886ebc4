"""What services need from the realtime layer: a way to announce to a room, after commit.

The hub implements this; services never import the Socket.IO server.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Protocol


class RoomNotifier(Protocol):
    async def emit_to_room(
        self, room_id: str, event: str, payload: dict[str, Any], *, skip_sid: str | None = None
    ) -> None:
        """Send ``event`` to every socket in the room (but ``skip_sid``), on every process."""


class SilentNotifier:
    """Announces nothing: for tools and tests that run services without a hub."""

    async def emit_to_room(
        self, room_id: str, event: str, payload: dict[str, Any], *, skip_sid: str | None = None
    ) -> None:
        return None


class RoomPresence(Protocol):
    async def users_in_rooms(self, room_ids: Collection[str]) -> dict[str, set[str]]:
        """For each room, the users with at least one socket joined to it (on any process)."""


class NobodyPresent:
    """Presence without a hub: nobody is ever in a room."""

    async def users_in_rooms(self, room_ids: Collection[str]) -> dict[str, set[str]]:
        return {}


class HubControl(Protocol):
    """What services may ask of the hub beyond announcing: both act on every process."""

    async def close_room(self, room_id: str) -> None:
        """The room was closed: each socket in it gets ``hub:error ROOM_NOT_ELIGIBLE`` and leaves."""

    async def disconnect_user(self, user_id: str) -> None:
        """Disconnect every socket of the user."""


class SilentHubControl:
    """Controls nothing: for tools and tests that run services without a hub."""

    async def close_room(self, room_id: str) -> None:
        return None

    async def disconnect_user(self, user_id: str) -> None:
        return None
