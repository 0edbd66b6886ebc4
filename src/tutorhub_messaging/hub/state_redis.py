"""``HubState`` shared by every process through Redis.

Each method is one Lua script, so a join's guardrail check and its write are atomic across
processes. Every socket is tagged with the process that holds it; processes keep a heartbeat key
alive, and any process reaps the sockets of one whose heartbeat has expired (a killed process
cannot say goodbye), so occupancy and presence heal by themselves.

Keys (``p`` is the prefix):
  p sock:<sid>               hash {user, ns, proc}
  p sockrooms:<sid>          set of rooms the socket is in
  p usersocks:<user>         set of the user's sids
  p procsocks:<proc>         set of the process's sids
  p procs / p proc:<proc>    known processes / heartbeat (expires)
  p room:<room>              hash user -> member JSON (distinct users present)
  p roomorder:<room>         zset user -> first join time (members in the order they came)
  p presence:<room>:<user>   set of the user's sids in the room
  p userrooms:<user>         set of rooms the user is present in
  p removals                 evictions and closings begun, hub-wide (a counter)
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from tutorhub_messaging.errors import RoomFull, RoomLimit, Unavailable
from tutorhub_messaging.hub.state import Departure, Entry, Eviction, Guardrails, Member, SocketRef
from tutorhub_messaging.microbatch import MicroBatcher
from tutorhub_messaging.redis_scripts import ScriptCall, run_scripts

log = logging.getLogger(__name__)

# Takes one socket out of one room. Shared by the scripts below (prepended to them).
_TAKE_OUT = """
local function take_out(p, sid, room, user)
  if redis.call('SREM', p..'sockrooms:'..sid, room) == 0 then return nil end
  local pres = p..'presence:'..room..':'..user
  redis.call('SREM', pres, sid)
  local member = redis.call('HGET', p..'room:'..room, user)
  local last = 0
  if redis.call('SCARD', pres) == 0 then
    last = 1
    redis.call('HDEL', p..'room:'..room, user)
    redis.call('ZREM', p..'roomorder:'..room, user)
    redis.call('SREM', p..'userrooms:'..user, room)
  end
  return {room, member or '', last}
end
"""

_ADD_SOCKET = """
local p, sid, user, ns, proc = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
redis.call('HSET', p..'sock:'..sid, 'user', user, 'ns', ns, 'proc', proc)
redis.call('SADD', p..'usersocks:'..user, sid)
redis.call('SADD', p..'procsocks:'..proc, sid)
return 1
"""

_REMOVE_SOCKET = (
    _TAKE_OUT
    + """
local p, sid = ARGV[1], ARGV[2]
local user = redis.call('HGET', p..'sock:'..sid, 'user')
if not user then return {} end
local proc = redis.call('HGET', p..'sock:'..sid, 'proc')
local out = {}
for _, room in ipairs(redis.call('SMEMBERS', p..'sockrooms:'..sid)) do
  local d = take_out(p, sid, room, user)
  if d then table.insert(out, d) end
end
redis.call('DEL', p..'sock:'..sid, p..'sockrooms:'..sid)
redis.call('SREM', p..'usersocks:'..user, sid)
if proc then redis.call('SREM', p..'procsocks:'..proc, sid) end
return out
"""
)

_JOIN = """
local p, sid, room, user, member = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local max_users, max_rooms, now = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
if redis.call('EXISTS', p..'sock:'..sid) == 0 then return {-1, 0} end
local pres = p..'presence:'..room..':'..user
if redis.call('HEXISTS', p..'room:'..room, user) == 1 then
  redis.call('HSET', p..'room:'..room, user, member)
else
  if redis.call('HLEN', p..'room:'..room) >= max_users then return {-2, 0} end
  if redis.call('SCARD', p..'userrooms:'..user) >= max_rooms then return {-3, 0} end
  redis.call('HSET', p..'room:'..room, user, member)
  redis.call('ZADD', p..'roomorder:'..room, now, user)
  redis.call('SADD', p..'userrooms:'..user, room)
end
local status, first = 0, 0
if redis.call('SISMEMBER', pres, sid) == 1 then
  status = 1
else
  if redis.call('SCARD', pres) == 0 then first = 1 end
  redis.call('SADD', pres, sid)
  redis.call('SADD', p..'sockrooms:'..sid, room)
end
-- Who is in the room now, in the order they came (as MEMBERS): one round trip per join.
local out = {status, first}
local users = redis.call('ZRANGE', p..'roomorder:'..room, 0, -1)
if #users > 0 then
  for _, m in ipairs(redis.call('HMGET', p..'room:'..room, unpack(users))) do out[#out + 1] = m end
end
return out
"""

_LEAVE = (
    _TAKE_OUT
    + """
local p, sid, room = ARGV[1], ARGV[2], ARGV[3]
local user = redis.call('HGET', p..'sock:'..sid, 'user')
if not user then return nil end
return take_out(p, sid, room, user)
"""
)

_EVICT = (
    _TAKE_OUT
    + """
local p, room, user = ARGV[1], ARGV[2], ARGV[3]
redis.call('INCR', p..'removals')
local member = redis.call('HGET', p..'room:'..room, user)
local out = {member or ''}
for _, sid in ipairs(redis.call('SMEMBERS', p..'presence:'..room..':'..user)) do
  take_out(p, sid, room, user)
  table.insert(out, sid)
  table.insert(out, redis.call('HGET', p..'sock:'..sid, 'ns') or '')
end
return out
"""
)

_SOCKETS_OF = """
local p, user = ARGV[1], ARGV[2]
local out = {}
for _, sid in ipairs(redis.call('SMEMBERS', p..'usersocks:'..user)) do
  local ns = redis.call('HGET', p..'sock:'..sid, 'ns')
  if ns then table.insert(out, sid); table.insert(out, ns) end
end
return out
"""

# Plain reads and counts, as scripts so that they share the pipeline of the other calls.
_REMOVALS = "return redis.call('GET', ARGV[1]..'removals')"
_BEGIN_REMOVAL = "return redis.call('INCR', ARGV[1]..'removals')"
_IS_JOINED = "return redis.call('SISMEMBER', ARGV[1]..'sockrooms:'..ARGV[2], ARGV[3])"

_MEMBERS = """
local p, room = ARGV[1], ARGV[2]
local users = redis.call('ZRANGE', p..'roomorder:'..room, 0, -1)
if #users == 0 then return {} end
return redis.call('HMGET', p..'room:'..room, unpack(users))
"""


def _unavailable() -> Unavailable:
    log.warning("hub state: Redis unreachable")
    return Unavailable("Realtime service temporarily unavailable")


def _refused(error: RedisError) -> Unavailable:
    """A call Redis answered with an error (a script error, Redis out of memory)."""
    log.error("hub state: Redis refused a call", extra={"redisError": str(error)})
    return Unavailable("Realtime service temporarily unavailable")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _member_json(member: Member) -> str:
    return orjson.dumps([member.user_id, member.fullname, member.avatar, member.hub_role]).decode()


def _member_from(raw: Any) -> Member | None:
    if not raw:
        return None
    user_id, fullname, avatar, hub_role = orjson.loads(raw)
    return Member(user_id, fullname, avatar, hub_role)


class RedisHubState:
    """``HubState`` in Redis, for several processes serving one hub."""

    HEARTBEAT_SECONDS = 5.0
    MAX_BATCH = 500  # script calls in one pipeline
    HEARTBEAT_TTL_SECONDS = 15

    def __init__(self, redis: Redis, guardrails: Guardrails, prefix: str = "thm:hub:") -> None:
        self.redis = redis
        self.guardrails = guardrails
        self.prefix = prefix
        self.process_id = uuid.uuid4().hex
        self._add_socket = redis.register_script(_ADD_SOCKET)
        self._remove_socket = redis.register_script(_REMOVE_SOCKET)
        self._join = redis.register_script(_JOIN)
        self._leave = redis.register_script(_LEAVE)
        self._evict = redis.register_script(_EVICT)
        self._sockets_of = redis.register_script(_SOCKETS_OF)
        self._members = redis.register_script(_MEMBERS)
        self._removals = redis.register_script(_REMOVALS)
        self._begin_removal = redis.register_script(_BEGIN_REMOVAL)
        self._is_joined = redis.register_script(_IS_JOINED)
        # The calls made while a round trip is on its way go together in the next one, in the
        # order they were made: a reconnect storm's joins, a stopping process's departures.
        self._scripts = MicroBatcher[ScriptCall, Any](
            "hub state", self._run_together, max_batch=self.MAX_BATCH, gather_first=False
        )

    async def _run(self, script: AsyncScript, args: list[Any]) -> Any:
        return await self._scripts.submit(ScriptCall(script, (), args))

    async def _run_together(self, calls: list[ScriptCall]) -> list[Any]:
        try:
            results = await run_scripts(self.redis, calls)
        except RedisError as exc:
            raise _unavailable() from exc
        return [_refused(result) if isinstance(result, RedisError) else result for result in results]

    def _departure(self, raw: Any) -> Departure | None:
        room, member_raw, last = raw
        member = _member_from(member_raw)
        if member is None:
            return None
        return Departure(_text(room), member, last_of_user=bool(int(last)))

    async def add_socket(self, socket: SocketRef, user_id: str) -> None:
        await self._run(
            self._add_socket, [self.prefix, socket.sid, user_id, socket.namespace, self.process_id]
        )

    async def remove_socket(self, sid: str) -> list[Departure]:
        rows = await self._run(self._remove_socket, [self.prefix, sid])
        return [d for d in (self._departure(row) for row in rows) if d is not None]

    async def join(self, sid: str, room_id: str, member: Member) -> Entry:
        status, first, *members = await self._run(
            self._join,
            [
                self.prefix,
                sid,
                room_id,
                member.user_id,
                _member_json(member),
                self.guardrails.max_users_per_room,
                self.guardrails.max_rooms_per_user,
                int(time.time() * 1000),
            ],
        )
        status = int(status)
        if status == -1:
            raise LookupError(f"unknown socket {sid}")
        if status == -2:
            raise RoomFull("Room is full")
        if status == -3:
            raise RoomLimit(f"You are already in {self.guardrails.max_rooms_per_user} rooms: leave one first")
        return Entry(
            already_joined=status == 1,
            first_of_user=bool(int(first)),
            members=tuple(m for m in (_member_from(raw) for raw in members) if m is not None),
        )

    async def leave(self, sid: str, room_id: str) -> Departure | None:
        row = await self._run(self._leave, [self.prefix, sid, room_id])
        return None if not row else self._departure(row)

    async def evict(self, room_id: str, user_id: str) -> Eviction:
        rows = await self._run(self._evict, [self.prefix, room_id, user_id])
        member = _member_from(rows[0]) if rows else None
        pairs = rows[1:]
        sockets = [
            SocketRef(_text(pairs[i]), _text(pairs[i + 1])) for i in range(0, len(pairs), 2) if pairs[i + 1]
        ]
        return Eviction(sockets, member)

    async def begin_removal(self) -> None:
        await self._run(self._begin_removal, [self.prefix])

    async def removals(self) -> int:
        return int(await self._run(self._removals, [self.prefix]) or 0)

    async def is_joined(self, sid: str, room_id: str) -> bool:
        return bool(await self._run(self._is_joined, [self.prefix, sid, room_id]))

    async def members(self, room_id: str) -> list[Member]:
        rows = await self._run(self._members, [self.prefix, room_id])
        return [m for m in (_member_from(raw) for raw in rows) if m is not None]

    async def sockets_of(self, user_id: str) -> list[SocketRef]:
        rows = await self._run(self._sockets_of, [self.prefix, user_id])
        return [SocketRef(_text(rows[i]), _text(rows[i + 1])) for i in range(0, len(rows), 2)]

    # Process liveness: heartbeat, and reaping the sockets of processes that died.

    async def heartbeat(self) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.set(self.prefix + "proc:" + self.process_id, b"1", ex=self.HEARTBEAT_TTL_SECONDS)
            pipe.sadd(self.prefix + "procs", self.process_id)
            await pipe.execute()

    async def reap_dead_processes(self) -> list[Departure]:
        """Remove the sockets of every process whose heartbeat expired; returns what changed."""
        departures: list[Departure] = []
        for raw in await self.redis.smembers(self.prefix + "procs"):
            process = _text(raw)
            if process == self.process_id or await self.redis.exists(self.prefix + "proc:" + process):
                continue
            for sid in await self.redis.smembers(self.prefix + "procsocks:" + process):
                departures.extend(await self.remove_socket(_text(sid)))
            await self.redis.delete(self.prefix + "procsocks:" + process)
            await self.redis.srem(self.prefix + "procs", process)
            log.warning("reaped the sockets of a stopped process", extra={"stoppedProcess": process})
        return departures

    async def forget_own_sockets(self) -> None:
        """On a clean shutdown: take this process's sockets out, without waiting for expiry."""
        for sid in await self.redis.smembers(self.prefix + "procsocks:" + self.process_id):
            await self.remove_socket(_text(sid))
        await self.redis.delete(self.prefix + "proc:" + self.process_id)
        await self.redis.srem(self.prefix + "procs", self.process_id)

    async def run_liveness(self, on_departures: Any = None) -> None:
        """Heartbeat and reap forever (a background task of the server)."""
        while True:
            try:
                await self.heartbeat()
                departures = await self.reap_dead_processes()
                if departures and on_departures is not None:
                    await on_departures(departures)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("hub state: liveness round failed (Redis unreachable?)")
            await asyncio.sleep(self.HEARTBEAT_SECONDS)
