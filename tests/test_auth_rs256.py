"""RS256 tokens (Mindbricks auth service style) with MESSAGING_JWT_PUBLIC_KEY_FILE configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.conversations import assert_error
from tests.support.tokens import hmac_signed, user_claims
from tests.support.users import User

USER_ROUTE = "/v1/myconversations"


def new_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return new_private_key()


@pytest.fixture
def settings_overrides(tmp_path: Path, signing_key: rsa.RSAPrivateKey) -> dict[str, Any]:
    path = tmp_path / "auth-public.pem"
    path.write_bytes(public_pem(signing_key))
    return {"jwt_public_key_file": path}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_rs256_token_is_accepted(
    client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey, student: User
) -> None:
    claims = user_claims(student.id, keyId="auth-key-1")
    token = jwt.encode(claims, private_pem(signing_key), algorithm="RS256")
    response = await client.get(USER_ROUTE, headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["userId"] == student.id


async def test_hs256_tokens_still_work_next_to_rs256(client: httpx.AsyncClient, student: User) -> None:
    assert (await client.get(USER_ROUTE, headers=student.headers)).status_code == 200


async def test_rs256_token_from_another_key_is_401(client: httpx.AsyncClient) -> None:
    token = jwt.encode(user_claims(), private_pem(new_private_key()), algorithm="RS256")
    assert_error(await client.get(USER_ROUTE, headers=bearer(token)), 401, "errMsg_invalidToken")


async def test_public_key_used_as_an_hmac_secret_is_401(
    client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    # The classic algorithm confusion: HS256 "signed" with the public key the server trusts.
    token = hmac_signed(
        {"alg": "HS256", "typ": "JWT"}, user_claims(role="superAdmin"), public_pem(signing_key)
    )
    assert_error(await client.get(USER_ROUTE, headers=bearer(token)), 401, "errMsg_invalidToken")


async def test_hs256_signature_claiming_rs256_is_401(
    client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    token = hmac_signed({"alg": "RS256", "typ": "JWT"}, user_claims(), public_pem(signing_key))
    assert_error(await client.get(USER_ROUTE, headers=bearer(token)), 401, "errMsg_invalidToken")


async def test_expired_rs256_token_is_401_with_its_own_reason(
    client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    claims = user_claims(exp=1_000_000, iat=999_000)
    token = jwt.encode(claims, private_pem(signing_key), algorithm="RS256")
    assert_error(await client.get(USER_ROUTE, headers=bearer(token)), 401, "errMsg_tokenExpired")


@pytest.mark.parametrize("alg", ["RS512", "PS256"])
async def test_other_rsa_algorithms_are_401(
    client: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey, alg: str
) -> None:
    token = jwt.encode(user_claims(), private_pem(signing_key), algorithm=alg)
    assert_error(await client.get(USER_ROUTE, headers=bearer(token)), 401, "errMsg_invalidToken")
