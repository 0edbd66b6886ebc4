"""A room closed, or a user erased, while sockets are connected: the hub acts on every process.

Closing reuses the path a block takes (``membership.remove_user``): the shared hub state takes
each user's sockets out of the room wherever they are connected, Socket.IO's manager removes them
from the room on their own process, and the room sees each user leave. Each removed socket is
then told why with ``hub:error {roomId, code: "ROOM_NOT_ELIGIBLE", error}``. A reopened room can
be joined again: nothing about the closing is remembered but the room's status.
"""

from __future__ import annotations

from tutorhub_messaging.errors import RoomNotEligible
from tutorhub_messaging.hub.membership import ROOM_CLOSED, remove_user
from tutorhub_messaging.hub.protocol import ERROR, render_error
from tutorhub_messaging.hub.runtime import HubRuntime


class HubClosing:
    """``realtime.HubControl`` for the running hub."""

    def __init__(self, hub: HubRuntime) -> None:
        self.hub = hub

    async def close_room(self, room_id: str) -> None:
        hub = self.hub
        # Counted before the members are read: a join still in flight then checks again.
        await hub.state.begin_removal()
        for member in await hub.state.members(room_id):
            for socket in await remove_user(hub, room_id, member.user_id):
                await hub.to_socket(socket, ERROR, render_error(RoomNotEligible(ROOM_CLOSED), room_id))

    async def disconnect_user(self, user_id: str) -> None:
        hub = self.hub
        for socket in await hub.state.sockets_of(user_id):
            await hub.sio.disconnect(socket.sid, namespace=socket.namespace)
