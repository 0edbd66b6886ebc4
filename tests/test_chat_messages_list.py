"""``GET /v1/v1/chat-messages`` (and the ``/v1/chat-messages`` alias): filters, paging, visibility."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.chat_rooms import assert_envelope_error, block, create_room, set_timestamp, store_text
from tests.support.users import User, service_headers

LIST = "/v1/v1/chat-messages"


@dataclass
class World:
    """Two rooms: (alice, tutor) and (bob, tutor), with messages of several kinds."""

    alice: User
    bob: User
    tutor: User
    room_a: str
    room_b: str
    messages: dict[str, dict[str, Any]]


@pytest.fixture
async def world(app: Any) -> World:
    alice = User("student", fullname="Alice Smith", avatar="https://cdn.test/AVATARS/alice.png")
    bob = User("student", fullname="Bob 100% Real", avatar="https://img.test/bob.jpg")
    tutor = User("tutor", fullname="Tara Tutor", avatar="https://cdn.test/avatars/tara.png")
    room_a = await create_room(app, alice, tutor)
    room_b = await create_room(app, bob, tutor)
    m: dict[str, dict[str, Any]] = {}
    m["hello"] = await store_text(app, room_a, alice, "Hello World")
    m["image"] = await store_text(
        app,
        room_a,
        tutor,
        message_type="image",
        content={"mediaUrl": "https://cdn.test/p.png", "caption": "Café"},
    )
    m["reply"] = await store_text(app, room_a, alice, "Thanks!", reply_to=m["hello"]["id"])
    m["quoted"] = await store_text(app, room_a, tutor, 'He said "wait" \\o/')
    m["system"] = await store_text(
        app, room_a, None, message_type="system", content={"systemAction": "enrollment started"}
    )
    m["bob"] = await store_text(app, room_b, bob, "bob here", status="pending")
    m["bob_reply"] = await store_text(
        app, room_b, tutor, "hi bob", reply_to=m["bob"]["id"], status="rejected"
    )
    return World(alice, bob, tutor, room_a, room_b, m)


async def listing(
    client: httpx.AsyncClient, user: User, params: Any = None, path: str = LIST
) -> httpx.Response:
    return await client.get(path, headers=user.headers, params=params)


async def ids(client: httpx.AsyncClient, user: User, params: Any = None) -> list[str]:
    response = await listing(client, user, params)
    assert response.status_code == 200, response.text
    return [m["id"] for m in response.json()["chatMessages"]]


def of(world: World, *names: str) -> list[str]:
    return [world.messages[name]["id"] for name in names]


# --- the envelope, visibility and order ------------------------------------------------------


async def test_the_list_is_a_mindbricks_envelope_newest_first(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await listing(client, world.alice, {"roomId": world.room_a})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "OK"
    assert body["statusCode"] == 200
    assert body["dataName"] == "chatMessages"
    assert body["action"] == "list"
    assert body["method"] == "GET"
    assert body["userId"] == world.alice.id
    assert body["rowCount"] == 5
    assert [m["id"] for m in body["chatMessages"]] == of(world, "system", "quoted", "reply", "image", "hello")
    assert body["paging"] == {"pageNumber": 1, "pageRowCount": 25, "totalRowCount": 5, "pageCount": 1}
    assert body["filters"] == []
    assert body["uiPermissions"] == []
    record = body["chatMessages"][-1]
    assert record["senderName"] == "Alice Smith"
    assert record["messageType_idx"] == 0
    assert record["status"] == "approved"
    assert record["status_idx"] == 1
    assert record["_owner"] == world.alice.id


async def test_the_alias_route_answers_the_same(client: httpx.AsyncClient, world: World) -> None:
    guide = await listing(client, world.alice, {"roomId": world.room_a})
    alias = await listing(client, world.alice, {"roomId": world.room_a}, path="/v1/chat-messages")
    prefixed = await listing(client, world.alice, {"roomId": world.room_a}, path="/messaging-api" + LIST)
    assert alias.status_code == prefixed.status_code == 200
    assert alias.json()["chatMessages"] == guide.json()["chatMessages"] == prefixed.json()["chatMessages"]


async def test_an_unfiltered_list_shows_a_user_only_their_rooms(
    client: httpx.AsyncClient, world: World
) -> None:
    assert await ids(client, world.bob) == of(world, "bob_reply", "bob")
    assert set(await ids(client, world.tutor)) == {m["id"] for m in world.messages.values()}


async def test_a_stranger_sees_an_empty_list(client: httpx.AsyncClient, world: World, stranger: User) -> None:
    assert await ids(client, stranger) == []


@pytest.mark.parametrize("role", ["admin", "superAdmin"])
async def test_admins_see_every_room(client: httpx.AsyncClient, world: World, role: str) -> None:
    assert set(await ids(client, User(role))) == {m["id"] for m in world.messages.values()}


async def test_naming_a_room_one_is_not_in_is_forbidden(client: httpx.AsyncClient, world: World) -> None:
    response = await listing(client, world.alice, {"roomId": world.room_b})
    assert_envelope_error(response, 403, "errMsg_forbidden")
    assert "bob here" not in response.text


async def test_naming_a_missing_room_answers_like_someone_elses(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await listing(client, world.alice, {"roomId": str(uuid.uuid4())})
    assert_envelope_error(response, 403, "errMsg_forbidden")


async def test_naming_one_forbidden_room_among_several_is_forbidden(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await listing(client, world.alice, [("roomId", world.room_a), ("roomId", world.room_b)])
    assert_envelope_error(response, 403)


async def test_an_admin_naming_a_missing_room_gets_an_empty_list(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    assert await ids(client, admin, {"roomId": str(uuid.uuid4())}) == []


async def test_a_blocked_participant_cannot_list_that_room(
    app: Any, client: httpx.AsyncClient, world: World, super_admin: User
) -> None:
    await block(app, world.room_a, world.alice, super_admin)
    assert_envelope_error(await listing(client, world.alice, {"roomId": world.room_a}), 403, "errMsg_blocked")
    assert await ids(client, world.alice) == []
    # the other participant still reads it
    assert len(await ids(client, world.tutor, {"roomId": world.room_a})) == 5


async def test_deleted_messages_never_appear(client: httpx.AsyncClient, world: World, admin: User) -> None:
    deleted = await client.delete(f"{LIST}/{world.messages['hello']['id']}", headers=world.alice.headers)
    assert deleted.status_code == 200
    assert world.messages["hello"]["id"] not in await ids(client, admin)
    assert world.messages["hello"]["id"] not in await ids(client, world.alice, {"roomId": world.room_a})


# --- ID filters ------------------------------------------------------------------------------


async def test_room_id_filters_exactly_and_repeats_as_any_of(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    assert await ids(client, admin, {"roomId": world.room_b}) == of(world, "bob_reply", "bob")
    both = await ids(client, admin, [("roomId", world.room_a), ("roomId", world.room_b.upper())])
    assert set(both) == {m["id"] for m in world.messages.values()}


async def test_room_id_null_matches_nothing_since_every_message_has_a_room(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    assert await ids(client, admin, {"roomId": "null"}) == []


async def test_sender_id_filters_single_repeated_and_null(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    assert await ids(client, admin, {"senderId": world.bob.id}) == of(world, "bob")
    assert await ids(client, admin, [("senderId", world.bob.id), ("senderId", world.alice.id)]) == of(
        world, "bob", "reply", "hello"
    )
    assert await ids(client, admin, {"senderId": "null"}) == of(world, "system")
    assert await ids(client, admin, [("senderId", "null"), ("senderId", world.bob.id)]) == of(
        world, "bob", "system"
    )


@pytest.mark.parametrize("field", ["roomId", "senderId"])
@pytest.mark.parametrize("value", ["abc", "", "12345678-1234-1234-1234-1234567890123", "' OR 1=1 --"])
async def test_id_filters_refuse_values_that_are_not_uuids(
    client: httpx.AsyncClient, world: World, admin: User, field: str, value: str
) -> None:
    assert_envelope_error(await listing(client, admin, {field: value}), 400, f"errMsg_{field}isNotAValidID")


# --- string filters: case-insensitive partial --------------------------------------------------


async def test_sender_name_is_a_case_insensitive_partial_match(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    assert await ids(client, admin, {"senderName": "aLiCe"}) == of(world, "reply", "hello")
    assert await ids(client, admin, {"senderName": "SMI"}) == of(world, "reply", "hello")
    assert await ids(client, admin, [("senderName", "bob"), ("senderName", "alice")]) == of(
        world, "bob", "reply", "hello"
    )
    assert await ids(client, admin, {"senderName": "null"}) == of(world, "system")


async def test_sender_name_wildcards_are_literal(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    assert await ids(client, admin, {"senderName": "100%"}) == of(world, "bob")
    assert await ids(client, admin, {"senderName": "%"}) == of(world, "bob")
    assert await ids(client, admin, {"senderName": "_"}) == []


async def test_sender_avatar_is_a_case_insensitive_partial_match(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    from_cdn = await ids(client, admin, {"senderAvatar": "cdn.test/avatars"})
    assert set(from_cdn) == set(of(world, "hello", "reply", "image", "quoted", "bob_reply"))
    assert await ids(client, admin, {"senderAvatar": "BOB.JPG"}) == of(world, "bob")
    assert await ids(client, admin, {"senderAvatar": "null"}) == of(world, "system")


async def test_an_empty_string_filter_filters_nothing(client: httpx.AsyncClient, world: World) -> None:
    assert len(await ids(client, world.alice, {"senderName": ""})) == 5


# --- enum filters: case-insensitive exact ------------------------------------------------------


async def test_message_type_is_a_case_insensitive_exact_match(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    assert await ids(client, admin, {"messageType": "IMAGE"}) == of(world, "image")
    assert await ids(client, admin, [("messageType", "system"), ("messageType", "Image")]) == of(
        world, "system", "image"
    )
    assert await ids(client, admin, {"messageType": "null"}) == []


async def test_status_is_a_case_insensitive_exact_match(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    assert await ids(client, admin, {"status": "Pending"}) == of(world, "bob")
    assert await ids(client, admin, [("status", "REJECTED"), ("status", "pending")]) == of(
        world, "bob_reply", "bob"
    )
    assert await ids(client, admin, {"status": "null"}) == []


@pytest.mark.parametrize(
    ("field", "value"), [("messageType", "video"), ("messageType", "tex"), ("status", "ok")]
)
async def test_an_unknown_enum_value_is_invalid(
    client: httpx.AsyncClient, world: World, admin: User, field: str, value: str
) -> None:
    assert_envelope_error(await listing(client, admin, {field: value}), 400, f"errMsg_{field}isNotValid")


# --- object filters: text inside the JSON -------------------------------------------------------


async def test_content_matches_text_inside_the_content(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    assert await ids(client, admin, {"content": "hello WORLD"}) == of(world, "hello")
    assert await ids(client, admin, [("content", "thanks"), ("content", "bob here")]) == of(
        world, "bob", "reply"
    )
    assert await ids(client, admin, {"content": "enrollment started"}) == of(world, "system")
    assert await ids(client, admin, {"content": "null"}) == []


async def test_content_matches_quotes_backslashes_and_accents(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    assert await ids(client, admin, {"content": 'said "wait" \\o/'}) == of(world, "quoted")
    assert await ids(client, admin, {"content": "Café"}) == of(world, "image")


async def test_content_values_match_wildcards_and_escapes_literally(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    # Every value is matched as text: % and _ are no wildcards, a backslash escapes nothing.
    assert await ids(client, admin, {"content": "%"}) == []
    assert await ids(client, admin, {"content": "_"}) == []
    assert await ids(client, admin, {"content": "o/"}) == of(world, "quoted")
    assert await ids(client, admin, [("content", "%"), ("content", "\\o")]) == of(world, "quoted")
    assert await ids(client, admin, [("content", "w_it"), ("content", "CAF")]) == of(world, "image")


async def test_reply_to_matches_the_replied_message_id_and_null(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    assert await ids(client, admin, {"replyTo": world.messages["hello"]["id"]}) == of(world, "reply")
    assert await ids(client, admin, {"replyTo": "BOB HERE"}) == of(world, "bob_reply")
    assert await ids(client, admin, {"replyTo": "null", "roomId": world.room_a}) == of(
        world, "system", "quoted", "image", "hello"
    )


# --- timestamp: partial match on the ISO text --------------------------------------------------


@pytest.fixture
async def dated(app: Any, world: World) -> World:
    moments = {
        "hello": datetime(2026, 11, 22, 10, 30, 0, 123_000, tzinfo=UTC),
        "image": datetime(2026, 11, 22, 23, 59, 59, 999_000, tzinfo=UTC),
        "reply": datetime(2026, 11, 23, 0, 0, 0, 0, tzinfo=UTC),
        "quoted": datetime(2026, 12, 1, 10, 31, 0, 0, tzinfo=UTC),
        "system": datetime(2025, 1, 5, 8, 0, 0, 0, tzinfo=UTC),
    }
    for name, moment in moments.items():
        await set_timestamp(app, world.messages[name]["id"], moment)
    return world


async def test_a_day_matches_that_day_only(client: httpx.AsyncClient, dated: World) -> None:
    assert await ids(client, dated.alice, {"timestamp": "2026-11-22"}) == of(dated, "image", "hello")


async def test_timestamps_match_by_year_month_partial_field_and_exact_millisecond(
    client: httpx.AsyncClient, dated: World
) -> None:
    alice = dated.alice
    assert await ids(client, alice, {"timestamp": "2025"}) == of(dated, "system")
    assert await ids(client, alice, {"timestamp": "2026-11"}) == of(dated, "reply", "image", "hello")
    assert await ids(client, alice, {"timestamp": "2026-1"}) == of(dated, "quoted", "reply", "image", "hello")
    assert await ids(client, alice, {"timestamp": "2026-11-22t10:3"}) == of(dated, "hello")
    assert await ids(client, alice, {"timestamp": "2026-11-22T10:30:00.123Z"}) == of(dated, "hello")
    assert await ids(client, alice, {"timestamp": "2026-11-22T10:30:00.124Z"}) == []


async def test_timestamps_match_inside_the_iso_text(client: httpx.AsyncClient, dated: World) -> None:
    assert await ids(client, dated.alice, {"timestamp": "t10:3"}) == of(dated, "quoted", "hello")
    assert await ids(client, dated.alice, {"timestamp": "59.999z"}) == of(dated, "image")
    assert await ids(client, dated.alice, {"timestamp": "11-2"}) == of(dated, "reply", "image", "hello")


async def test_timestamp_filters_repeat_as_any_of(client: httpx.AsyncClient, dated: World) -> None:
    params = [("timestamp", "2025"), ("timestamp", "2026-12")]
    # Newest first means most recently stored first, whatever the (here rewritten) timestamps say.
    assert await ids(client, dated.alice, params) == of(dated, "system", "quoted")


@pytest.mark.parametrize("value", ["2026-13", "2026-02-30", "2026-11-22T24", "0000", "yesterday", "null"])
async def test_timestamps_no_message_can_have_match_nothing(
    client: httpx.AsyncClient, dated: World, value: str
) -> None:
    assert await ids(client, dated.alice, {"timestamp": value}) == []


# --- combined filters, limits -----------------------------------------------------------------


async def test_different_filters_combine_with_and(
    client: httpx.AsyncClient, world: World, admin: User
) -> None:
    params = {"roomId": world.room_a, "senderName": "tara", "messageType": "text"}
    assert await ids(client, admin, params) == of(world, "quoted")


async def test_too_many_repeated_values_are_refused(client: httpx.AsyncClient, world: World) -> None:
    params = [("senderName", f"n{i}") for i in range(51)]
    assert_envelope_error(await listing(client, world.alice, params), 400, "errMsg_senderNameisNotValid")


async def test_an_overlong_filter_value_is_refused(client: httpx.AsyncClient, world: World) -> None:
    assert_envelope_error(
        await listing(client, world.alice, {"content": "x" * 1001}), 400, "errMsg_contentisNotValid"
    )


@pytest.mark.parametrize("field", ["senderName", "content", "timestamp", "replyTo", "roomId"])
async def test_a_nul_character_in_a_filter_is_refused(
    client: httpx.AsyncClient, world: World, field: str
) -> None:
    response = await listing(client, world.alice, {field: "a\x00b"})
    body = assert_envelope_error(response, 400)
    assert body["message"] in (f"errMsg_{field}isNotValid", f"errMsg_{field}isNotAValidID")


# --- paging ----------------------------------------------------------------------------------


async def test_pages_split_the_list(client: httpx.AsyncClient, world: World) -> None:
    response = await listing(client, world.alice, {"pageNumber": 2, "pageRowCount": 2})
    body = response.json()
    assert [m["id"] for m in body["chatMessages"]] == of(world, "reply", "image")
    assert body["paging"] == {"pageNumber": 2, "pageRowCount": 2, "totalRowCount": 5, "pageCount": 3}
    assert body["rowCount"] == 2


async def test_a_page_past_the_end_is_empty(client: httpx.AsyncClient, world: World) -> None:
    body = (await listing(client, world.alice, {"pageNumber": 9, "pageRowCount": 2})).json()
    assert body["chatMessages"] == []
    assert body["rowCount"] == 0
    assert body["paging"]["totalRowCount"] == 5


async def test_page_number_zero_turns_paging_off(client: httpx.AsyncClient, world: World) -> None:
    body = (await listing(client, world.alice, {"pageNumber": 0, "pageRowCount": 2})).json()
    assert len(body["chatMessages"]) == 5
    assert body["paging"] == {"pageNumber": 0, "pageRowCount": 5, "totalRowCount": 5, "pageCount": 1}


@pytest.mark.parametrize(
    "params",
    [
        {"pageNumber": -1},
        {"pageNumber": "abc"},
        {"pageNumber": "1.5"},
        {"pageNumber": "9" * 30},
        {"pageNumber": ""},
        {"pageRowCount": 0},
        {"pageRowCount": 501},
        {"pageRowCount": "many"},
    ],
)
async def test_bad_paging_numbers_are_invalid(
    client: httpx.AsyncClient, world: World, params: dict[str, Any]
) -> None:
    response = await listing(client, world.alice, params)
    body = assert_envelope_error(response, 400)
    assert body["message"] in ("errMsg_pageNumberisNotValid", "errMsg_pageRowCountisNotValid")


# --- who may call ------------------------------------------------------------------------------


async def test_the_list_needs_a_valid_user_token(client: httpx.AsyncClient, world: World) -> None:
    assert_envelope_error(await client.get(LIST), 401, "errMsg_loginRequired")
    assert_envelope_error(await client.get(LIST, headers={"Authorization": "Bearer garbage"}), 401)
    assert_envelope_error(await client.get(LIST, headers=service_headers()), 403)
