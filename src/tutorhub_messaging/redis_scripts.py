"""Running many Lua script calls in one round trip."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError, ResponseError


class ScriptCall(NamedTuple):
    script: AsyncScript
    keys: Sequence[Any]
    args: Sequence[Any]


async def run_scripts(redis: Redis, calls: Sequence[ScriptCall]) -> list[Any | ResponseError]:
    """Each call's result, in order, from one pipeline (no MULTI): one connection taken from the
    pool and one round trip for them all. A call that Redis answers with an error gets that error
    as its result (the calls after it have run: none is sent again); a connection that fails
    raises, and then some of the calls may have run.

    The calls go as ``EVALSHA``. redis-py's own way of running a script in a pipeline asks Redis
    whether the scripts exist (``SCRIPT EXISTS``) before every pipeline, one round trip more each
    time; here that is done only when Redis answers that it does not know a script (its script
    cache was flushed, or it restarted): those calls did not run, so they are sent again once the
    scripts are loaded.
    """
    results = await _pipelined(redis, calls)
    unknown = [index for index, result in enumerate(results) if isinstance(result, NoScriptError)]
    if unknown:
        for script in {id(calls[index].script): calls[index].script for index in unknown}.values():
            script.sha = await redis.script_load(script.script)
        for index, result in zip(
            unknown, await _pipelined(redis, [calls[index] for index in unknown]), strict=True
        ):
            results[index] = result
    return results


async def _pipelined(redis: Redis, calls: Sequence[ScriptCall]) -> list[Any]:
    async with redis.pipeline(transaction=False) as pipe:
        for call in calls:
            pipe.evalsha(call.script.sha, len(call.keys), *call.keys, *call.args)
        return list(await pipe.execute(raise_on_error=False))
