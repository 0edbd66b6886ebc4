"""Message search cannot starve the service: bounded filter values, a few searches per user at
once, a bound on each user's search time per minute, a time limit, and connections of its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.chat_rooms import assert_envelope_error, create_room, store_text
from tests.support.users import User
from tutorhub_messaging.db import search_limits
from tutorhub_messaging.db.database import Database
from tutorhub_messaging.db.search_limits import SearchLimits
from tutorhub_messaging.db.types import utcnow
from tutorhub_messaging.errors import RateLimited, Unavailable
from tutorhub_messaging.messages.repository import MessageRepository
from tutorhub_messaging.messages.service import Sender, message_row

SEARCH = "/v1/v1/chat-messages"


def overrides(**values: float) -> Any:
    return pytest.mark.parametrize("settings_overrides", [values], indirect=True)


async def search(client: httpx.AsyncClient, user: User, params: Any) -> httpx.Response:
    return await client.get(SEARCH, headers=user.headers, params=params)


async def refusals_counted(reason: str) -> float:
    value = REGISTRY.get_sample_value("messaging_search_refusals_total", {"reason": reason})
    return value or 0.0


async def refusals(client: httpx.AsyncClient, reason: str) -> float:
    for row in (await client.get("/metrics")).text.splitlines():
        if row.startswith(f'messaging_search_refusals_total{{reason="{reason}"}}'):
            return float(row.split()[-1])
    return 0.0


async def test_too_many_values_of_one_filter_are_refused(client: httpx.AsyncClient, student: User) -> None:
    before = await refusals(client, "values")
    response = await search(client, student, [("content", f"word{i}") for i in range(21)])
    body = assert_envelope_error(response, 400, "errMsg_contentisNotValid")
    assert "at most 20 times" in body["detail"]
    assert await refusals(client, "values") == before + 1
    assert (await search(client, student, [("content", f"word{i}") for i in range(20)])).status_code == 200


async def test_too_many_values_in_all_are_refused(client: httpx.AsyncClient, student: User) -> None:
    params = [(field, f"v{i}") for field in ("content", "senderName", "senderAvatar") for i in range(14)]
    body = assert_envelope_error(await search(client, student, params), 400, "errMsg_filtersAreNotValid")
    assert "at most 40 filter values" in body["detail"]


async def test_an_overlong_value_is_refused(client: httpx.AsyncClient, student: User) -> None:
    before = await refusals(client, "length")
    body = assert_envelope_error(
        await search(client, student, {"senderName": "x" * 201}), 400, "errMsg_senderNameisNotValid"
    )
    assert "at most 200 characters" in body["detail"]
    assert await refusals(client, "length") == before + 1
    assert (await search(client, student, {"senderName": "x" * 200})).status_code == 200


@overrides(searches_per_user=1, search_connections=2)  # the running search holds one connection
async def test_a_users_search_beyond_those_running_is_refused(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    await store_text(app, room, tutor, "hello")
    before = await refusals(client, "concurrency")

    async with app.context.db.search(student.id):  # the student's one search, still running
        refused = await search(client, student, {"content": "hello"})
        other_user = await search(client, tutor, {"content": "hello"})
        # Searches run on connections of their own: sends and other reads go on meanwhile.
        sent = await client.post(
            f"/chat/{room}/messages", headers=student.headers, json={"data": {"body": "hi"}}
        )
        inbox = await client.get("/v1/myconversations", headers=student.headers)

    body = assert_envelope_error(refused, 429)
    assert "At most 1 searches at once" in body["detail"]
    assert refused.headers["retry-after"] == "1"  # a client that waits as told does not flood
    assert await refusals(client, "concurrency") == before + 1
    assert other_user.status_code == 200
    assert sent.status_code == 201
    assert inbox.status_code == 200
    assert (await search(client, student, {"content": "hello"})).status_code == 200


@pytest.mark.parametrize(
    "settings_overrides",
    [{"search_seconds_per_user_per_minute": 1e-9, "search_burst_seconds": 1e-9}],
    indirect=True,
)
async def test_a_user_whose_searches_took_their_time_is_refused_until_it_comes_back(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    """One search connection per process: without a bound on each user's share of it, one user
    searching without pause would keep it and everyone else's searches would wait."""
    room = await create_room(app, student, tutor)
    await store_text(app, room, tutor, "hello")
    before = await refusals(client, "time")

    first = await search(client, student, {"content": "hello"})
    refused = await search(client, student, {"content": "hello"})
    other_user = await search(client, tutor, {"content": "hello"})

    assert first.status_code == 200
    body = assert_envelope_error(refused, 429)
    assert "per minute per user" in body["detail"]
    # Owing search time at a rate of a billionth of a second a minute: the longest wait told.
    assert refused.headers["retry-after"] == "3600"
    assert await refusals(client, "time") == before + 1
    assert other_user.status_code == 200
    # Only searches are bounded: the student's other reads go on.
    assert (await client.get(f"/chat/{room}/messages", headers=student.headers)).status_code == 200


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_search_time_comes_in_a_short_burst_then_at_a_steady_pace(monkeypatch: pytest.MonkeyPatch) -> None:
    """10 s a minute with 2 s back to back: a user searching without pause has their first 2 s,
    then a second every 6 s, never a core for 10 s on end; a search that ran long is owed."""
    clock = _Clock()
    monkeypatch.setattr(search_limits.time, "monotonic", clock)
    gate = search_limits.SearchGate(
        search_limits.SearchLimits(per_user=1, seconds_per_user=10.0, burst_seconds=2.0)
    )

    def searches_for(seconds: float) -> None:
        with gate.enter("u1") as search_clock:
            search_clock.start()
            clock.now += seconds

    searches_for(1.5)
    searches_for(0.7)  # still within the burst: admitted, and now it is spent (refilled meanwhile)
    with pytest.raises(RateLimited) as refused, gate.enter("u1"):
        pass
    assert refused.value.retry_after == 1
    with gate.enter("u2"):  # other users have buckets of their own
        pass
    clock.now += 3.0  # refilled by 0.5 s
    searches_for(5.0)  # a long one: the bucket now owes 3.75 s (refilled while it ran)
    with pytest.raises(RateLimited) as owed, gate.enter("u1"):
        pass
    assert owed.value.retry_after == 23  # 3.75 s at 10 s a minute: 22.5 s
    clock.now += 22.0
    with pytest.raises(RateLimited), gate.enter("u1"):
        pass
    clock.now += 1.1
    searches_for(0.1)
    clock.now += 600.0  # a long pause refills the bucket to its size, no more
    for _ in range(4):
        searches_for(0.6)
    with pytest.raises(RateLimited), gate.enter("u1"):
        pass


async def _store_many(app: Any, room: str, sender: User, count: int) -> None:
    who = Sender(sender.id, sender.fullname, sender.avatar)
    rows = [
        message_row(
            room,
            who,
            "text",
            {"body": f"message number {i}"},
            status="approved",
            at=utcnow(),
            forwarded=False,
        )
        for i in range(count)
    ]
    async with app.context.db.unit_of_work() as uow:
        await MessageRepository(uow.session).add_rows(rows)


@asynccontextmanager
async def messages_locked(url: str) -> AsyncIterator[None]:
    """PostgreSQL: another transaction holds the message table, so a search waits on it."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("LOCK TABLE chat_message IN ACCESS EXCLUSIVE MODE"))
            yield
            await conn.rollback()
    finally:
        await engine.dispose()


@overrides(search_timeout_ms=1)
async def test_a_search_over_its_time_limit_is_stopped_with_a_clear_error(
    app: Any, client: httpx.AsyncClient, settings: Any, admin: User, student: User, tutor: User
) -> None:
    room = await create_room(app, student, tutor)
    before = await refusals(client, "timeout")
    params = [("content", f"{uuid.uuid4().hex} {i}") for i in range(20)]
    if app.context.db.dialect == "postgresql":
        await store_text(app, room, tutor, "hello")
        async with messages_locked(settings.database_url):
            response = await search(client, admin, params)
    else:
        # A scan of 20,000 rows against 20 patterns: far more than a millisecond of work.
        await _store_many(app, room, tutor, 20_000)
        response = await search(client, admin, params)

    body = assert_envelope_error(response, 503, "errMsg_searchTimedOut")
    assert "took too long" in body["detail"]
    assert await refusals(client, "timeout") == before + 1
    # The service carries on: a plain read works.
    assert (await client.get("/v1/myconversations", headers=student.headers)).status_code == 200


async def test_a_search_reads_its_page_only_when_the_count_leaves_rows_for_it(
    app: Any, client: httpx.AsyncClient, student: User, tutor: User
) -> None:
    """A search that matches nothing (the costly kind: every candidate row is matched against
    every pattern) scans once, for its count, not again for an empty page."""
    room = await create_room(app, student, tutor)
    await store_text(app, room, tutor, "hello there")
    await store_text(app, room, tutor, "hello again")
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "chat_message" in statement:
            statements.append(statement)

    engine = app.context.db.search_engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        nothing = await search(client, student, {"content": "no such words"})
        scans_for_nothing, statements[:] = len(statements), []
        found = await search(client, student, {"content": "hello"})
        scans_for_found, statements[:] = len(statements), []
        past_the_end = await search(client, student, {"content": "hello", "pageNumber": 2, "pageRowCount": 2})
        scans_past_the_end = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert nothing.status_code == 200
    assert nothing.json()["chatMessages"] == [] and nothing.json()["paging"]["totalRowCount"] == 0
    assert scans_for_nothing == 1
    assert [m["content"]["body"] for m in found.json()["chatMessages"]] == ["hello again", "hello there"]
    assert found.json()["paging"]["totalRowCount"] == 2
    assert scans_for_found == 2
    assert past_the_end.json()["chatMessages"] == [] and past_the_end.json()["paging"]["totalRowCount"] == 2
    assert scans_past_the_end == 1


async def test_a_search_connection_rests_after_a_search_before_it_takes_the_next(tmp_path: Any) -> None:
    """All the searches of a process together keep their connection busy at most the configured
    share of the time: a search's answer is not held back, the next search waits for the rest."""
    resting_for_ever = Database(
        f"sqlite+aiosqlite:///{tmp_path / 'rest.db'}",
        search=SearchLimits(connections=1, busy_share=1e-9, wait_seconds=0.2),
    )
    never_resting = Database(
        f"sqlite+aiosqlite:///{tmp_path / 'no-rest.db'}",
        search=SearchLimits(connections=1, busy_share=1.0, wait_seconds=0.2),
    )
    try:
        before = await refusals_counted("busy")
        async with resting_for_ever.search("someone") as uow:
            assert (await uow.session.execute(text("SELECT 1"))).scalar_one() == 1
        with pytest.raises(Unavailable) as refused:
            async with resting_for_ever.search("someone else"):
                pass
        assert "Searches are busy" in refused.value.message
        assert refused.value.key == "errMsg_searchBusy"
        assert await refusals_counted("busy") == before + 1

        for user in ("someone", "someone else", "someone"):
            async with never_resting.search(user) as uow:
                assert (await uow.session.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await resting_for_ever.dispose()
        await never_resting.dispose()


@overrides(search_busy_share=0.25)
async def test_the_busy_share_is_a_setting(app: Any) -> None:
    assert app.context.db.search_pace.rest_factor == 3.0  # 25 % busy: three times as long at rest


async def test_a_search_connection_is_opened_at_startup(app: Any) -> None:
    """Not by the first search of a burst, on the event loop that serves everyone's sends."""
    pool = app.context.db.search_engine.pool
    assert pool.checkedin() == 0
    async with app.api.router.lifespan_context(app.api):
        # Opened in the background, so that startup does not wait for it.
        for _ in range(500):
            if pool.checkedin():
                break
            await asyncio.sleep(0.01)
        assert pool.checkedin() == 1


async def test_a_refused_search_is_answered_after_a_pause_and_pauses_cannot_pile_up(tmp_path: Any) -> None:
    """Refusals given together are paused by random amounts, so the retries of a client with many
    searches in flight come back spread out, not as one burst; past the bound, at once."""
    database = Database(
        f"sqlite+aiosqlite:///{tmp_path / 'pause.db'}",
        search=SearchLimits(connections=2, per_user=1, refusal_pause_seconds=3600),
    )
    try:
        async with database.search("someone"):  # the one search the user may run
            refused = asyncio.create_task(_enter_search(database, "someone"))
            await asyncio.sleep(0.05)
            assert not refused.done()  # refused, but not answered yet
            assert database.refusal_pause.waiting == 1
            assert await _enter_search(database, "someone else") == "searched"  # others go on
            refused.cancel()  # a client that hangs up while paused leaves nothing behind
            with pytest.raises(asyncio.CancelledError):
                await refused
            assert database.refusal_pause.waiting == 0

            database.refusal_pause.max_waiting = 1
            held = asyncio.create_task(_enter_search(database, "someone"))
            await asyncio.sleep(0.05)
            assert database.refusal_pause.waiting == 1
            # The bound is reached: the next refusal is answered at once.
            assert await _enter_search(database, "someone") == "refused"
            held.cancel()
            await asyncio.gather(held, return_exceptions=True)
        assert database.refusal_pause.waiting == 0
    finally:
        await database.dispose()


async def _enter_search(database: Database, user_id: str) -> str:
    try:
        async with database.search(user_id):
            return "searched"
    except RateLimited:
        return "refused"


@overrides(search_refusal_pause_ms=0)
async def test_the_refusal_pause_is_a_setting(app: Any) -> None:
    assert app.context.db.refusal_pause.max_seconds == 0
