"""Many script calls in one round trip (``redis_scripts.run_scripts``)."""

from __future__ import annotations

import uuid

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from tutorhub_messaging.redis_scripts import ScriptCall, run_scripts

INCREMENT = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
FAIL = "return redis.error_reply('refused ' .. ARGV[1])"


async def test_results_come_in_call_order_and_calls_run_in_order(redis: Redis) -> None:
    key = f"test:scripts:{uuid.uuid4().hex}"
    increment = redis.register_script(INCREMENT)

    results = await run_scripts(redis, [ScriptCall(increment, [key], [step]) for step in (1, 10, 100)])

    assert results == [1, 11, 111]
    await redis.delete(key)


async def test_scripts_redis_has_forgotten_are_loaded_and_their_calls_run_once(redis: Redis) -> None:
    key = f"test:scripts:{uuid.uuid4().hex}"
    increment = redis.register_script(INCREMENT)
    await redis.script_flush()

    results = await run_scripts(redis, [ScriptCall(increment, [key], [1]) for _ in range(3)])

    assert results == [1, 2, 3]
    assert int(await redis.get(key)) == 3
    await redis.delete(key)


async def test_a_call_redis_refuses_gets_its_error_and_the_others_their_results(redis: Redis) -> None:
    key = f"test:scripts:{uuid.uuid4().hex}"
    increment, fail = redis.register_script(INCREMENT), redis.register_script(FAIL)
    calls = [
        ScriptCall(increment, [key], [1]),
        ScriptCall(fail, [], ["x"]),
        ScriptCall(increment, [key], [1]),
    ]

    first, refused, third = await run_scripts(redis, calls)

    assert (first, third) == (1, 2)
    assert isinstance(refused, ResponseError) and "refused x" in str(refused)
    assert int(await redis.get(key)) == 2  # nothing was sent twice
    await redis.delete(key)
