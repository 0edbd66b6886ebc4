"""The micro-batcher that the send, join, directory and publish batches share."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from tests.support.batches import cancel_drainer
from tutorhub_messaging.errors import InvalidInput, Unavailable
from tutorhub_messaging.microbatch import MicroBatcher


class Recorder:
    """A handler that records the batches it is given and answers each item by a rule."""

    def __init__(self, fail_batches_above: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_batches_above = fail_batches_above
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, batch: list[int]) -> Sequence[int | Exception]:
        self.batches.append(list(batch))
        await self.release.wait()
        if self.fail_batches_above is not None and len(batch) > self.fail_batches_above:
            raise RuntimeError("this batch cannot be handled")
        return [InvalidInput("odd") if item % 2 else item * 10 for item in batch]


async def test_a_lone_item_is_handled_at_once_in_a_batch_of_one() -> None:
    handler = Recorder()
    batcher = MicroBatcher[int, int]("lone", handler, max_batch=10)

    assert await batcher.submit(4) == 40
    assert handler.batches == [[4]]


async def test_items_submitted_while_a_batch_is_handled_go_together_in_the_next() -> None:
    handler = Recorder()
    handler.release.clear()  # the first batch is held in its handler
    batcher = MicroBatcher[int, int]("grows", handler, max_batch=3)
    first = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0.01)
    later = [asyncio.create_task(batcher.submit(item)) for item in (2, 4, 6, 8)]
    await asyncio.sleep(0.01)
    assert batcher.waiting == 4

    handler.release.set()

    assert await asyncio.gather(first, *later) == [0, 20, 40, 60, 80]
    # In submission order, at most max_batch each.
    assert handler.batches == [[0], [2, 4, 6], [8]]


async def test_each_item_gets_its_own_outcome() -> None:
    batcher = MicroBatcher[int, int]("outcomes", Recorder(), max_batch=10)

    outcomes = await asyncio.gather(*(batcher.submit(item) for item in range(4)), return_exceptions=True)

    assert [o if isinstance(o, int) else type(o) for o in outcomes] == [0, InvalidInput, 20, InvalidInput]


async def test_a_failed_batch_is_handled_again_item_by_item_through_retry_item() -> None:
    handler = Recorder(fail_batches_above=1)
    batcher = MicroBatcher[int, int]("retried", handler, max_batch=10, retry_item=lambda item: item + 100)

    outcomes = await asyncio.gather(*(batcher.submit(item) for item in (2, 4)))

    assert outcomes == [1020, 1040]
    assert handler.batches == [[2, 4], [102], [104]]


async def test_an_item_that_fails_alone_fails_only_its_own_submitter() -> None:
    async def handle(batch: list[int]) -> list[int]:
        if 3 in batch:
            raise RuntimeError("item 3 cannot be handled")
        return batch

    batcher = MicroBatcher[int, int]("one bad item", handle, max_batch=10)

    outcomes = await asyncio.gather(*(batcher.submit(item) for item in (1, 3, 5)), return_exceptions=True)

    assert outcomes[0] == 1 and outcomes[2] == 5
    assert isinstance(outcomes[1], RuntimeError)


async def test_an_outage_answers_the_whole_batch_without_retrying_it() -> None:
    calls: list[list[int]] = []

    async def handle(batch: list[int]) -> list[int]:
        calls.append(batch)
        raise Unavailable()

    batcher = MicroBatcher[int, int]("outage", handle, max_batch=10)

    outcomes = await asyncio.gather(*(batcher.submit(item) for item in range(3)), return_exceptions=True)

    assert [type(o) for o in outcomes] == [Unavailable] * 3
    assert calls == [[0, 1, 2]]


async def test_a_cancelled_submitter_leaves_its_item_to_be_handled() -> None:
    handler = Recorder()
    handler.release.clear()
    batcher = MicroBatcher[int, int]("leaves", handler, max_batch=10)
    blocker = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0.01)
    gone = asyncio.create_task(batcher.submit(2))
    await asyncio.sleep(0.01)
    gone.cancel()

    handler.release.set()
    await blocker
    for _ in range(100):  # bounded wait for the drainer's next batch
        if len(handler.batches) == 2:
            break
        await asyncio.sleep(0.01)

    assert handler.batches == [[0], [2]]
    with pytest.raises(asyncio.CancelledError):
        await gone


@pytest.mark.parametrize("begun", [False, True], ids=["before it began", "with a batch on its way"])
async def test_a_cancelled_drainer_answers_everyone_with_the_abandoned_outcome(begun: bool) -> None:
    handler = Recorder()
    handler.release.clear()
    batcher = MicroBatcher[int, int]("cancelled", handler, max_batch=1)
    submitted = [asyncio.create_task(batcher.submit(item)) for item in (2, 4, 6)]
    await asyncio.sleep(0.01 if begun else 0)
    assert handler.batches == ([[2]] if begun else [])

    cancel_drainer("cancelled")
    outcomes = await asyncio.wait_for(asyncio.gather(*submitted, return_exceptions=True), 5)

    assert [type(o) for o in outcomes] == [Unavailable] * 3
    # A later item starts a new drainer.
    handler.release.set()
    assert await batcher.submit(8) == 80


async def test_holding_the_turn_holds_the_batches_back_while_the_queue_grows() -> None:
    handler = Recorder()
    batcher = MicroBatcher[int, int]("turn", handler, max_batch=10)
    await batcher.turn.acquire()
    submitted = [asyncio.create_task(batcher.submit(item)) for item in (2, 4, 6)]
    await asyncio.sleep(0.01)
    assert (handler.batches, batcher.waiting) == ([], 3)

    batcher.turn.release()

    assert await asyncio.gather(*submitted) == [20, 40, 60]
    assert handler.batches == [[2, 4, 6]]


async def test_without_gathering_first_an_item_is_handed_over_before_the_loop_turns() -> None:
    seen: list[list[int]] = []

    async def handle(batch: list[int]) -> list[int]:
        seen.append(batch)
        return batch

    gathered = MicroBatcher[int, int]("gathered", handle, max_batch=10)
    immediate = MicroBatcher[int, int]("immediate", handle, max_batch=10, gather_first=False)
    for batcher in (gathered, immediate):
        first = asyncio.create_task(batcher.submit(1))
        await asyncio.sleep(0)  # the submitter has queued 1 and started the drainer
        second = asyncio.create_task(batcher.submit(2))
        await asyncio.gather(first, second)

    # Gathering first, the drainer's first turn sees both; without it, 1 went alone.
    assert seen == [[1, 2], [1], [2]]
