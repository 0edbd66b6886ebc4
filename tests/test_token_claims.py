"""Display claims of a validly signed token are cleaned, never a reason for a 500."""

from __future__ import annotations

import time

import httpx
import jwt

from tests.support.users import TEST_SECRET, User
from tutorhub_messaging.identity.tokens import principal_from_claims


def test_nul_and_lone_surrogates_are_cleaned_from_display_claims() -> None:
    principal = principal_from_claims(
        {
            "userId": "7f0c2a52-8c1b-4a51-9b59-3f5a3f1b2c11",
            "roleId": "student",
            "exp": time.time() + 60,
            "fullname": "Ann\x00a \ud800Lee",
            "avatar": "\x00",
        }
    )
    assert principal.fullname == "Anna ?Lee"
    assert principal.avatar is None


async def test_a_token_with_unstorable_names_still_authenticates(client: httpx.AsyncClient) -> None:
    user = User("student")
    token = jwt.encode(
        {
            "userId": user.id,
            "roleId": "student",
            "exp": int(time.time()) + 60,
            "fullname": "Bad\x00Name",
            "avatar": "https://a/\x00.png",
        },
        TEST_SECRET,
        algorithm="HS256",
    )
    response = await client.get("/v1/myconversations", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.json()["userId"] == user.id
