"""Who gets in: token algorithms, expiry, claims, and the kind of caller each route accepts."""

from __future__ import annotations

import logging
import time
import uuid
import warnings
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.warnings import InsecureKeyLengthWarning

from tests.support.conversations import assert_error
from tests.support.tokens import craft, hmac_signed, user_claims
from tests.support.users import TEST_SECRET, User, service_headers
from tutorhub_messaging.identity.directory import DirectoryRepository
from tutorhub_messaging.identity.tokens import M2M_TOKEN_NAME

USER_ROUTE = "/v1/myconversations"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def m2m_route() -> str:
    return f"/v1/m2m/users/{uuid.uuid4()}"


def hs256(claims: dict[str, Any], secret: str = TEST_SECRET, **header: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers=header or None)


async def assert_user_route_refuses(client: httpx.AsyncClient, token: str) -> None:
    assert_error(await client.get(USER_ROUTE, headers=bearer(token)), 401, "errMsg_invalidToken")


async def test_a_valid_token_is_accepted_and_echoed_in_the_envelope(
    client: httpx.AsyncClient, student: User
) -> None:
    claims = user_claims(student.id)
    response = await client.get(USER_ROUTE, headers=bearer(hs256(claims)))
    assert response.status_code == 200
    assert response.json()["userId"] == student.id
    assert response.json()["sessionId"] == claims["sessionId"]


@pytest.mark.parametrize("route", [USER_ROUTE, "m2m"])
async def test_no_token_is_401(client: httpx.AsyncClient, route: str) -> None:
    path = m2m_route() if route == "m2m" else USER_ROUTE
    method = client.put if route == "m2m" else client.get
    kwargs: dict[str, Any] = {"json": {}} if route == "m2m" else {}
    response = await method(path, **kwargs)
    assert_error(response, 401, "errMsg_loginRequired")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_token_is_401_with_its_own_reason(client: httpx.AsyncClient) -> None:
    past = int(time.time()) - 120
    response = await client.get(USER_ROUTE, headers=bearer(hs256(user_claims(exp=past, iat=past - 60))))
    assert_error(response, 401, "errMsg_tokenExpired")
    assert response.json()["detail"] == "The token has expired"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_expired_token_on_a_hub_route_is_401_with_its_own_code(client: httpx.AsyncClient) -> None:
    past = int(time.time()) - 120
    token = hs256(user_claims(exp=past, iat=past - 60))
    response = await client.get(f"/chat/{uuid.uuid4()}/messages", headers=bearer(token))
    assert response.status_code == 401
    assert response.json() == {"success": False, "error": "The token has expired", "code": "TOKEN_EXPIRED"}


async def test_an_expired_token_signed_with_another_key_is_only_invalid(client: httpx.AsyncClient) -> None:
    """Expiry is told only for a token whose signature holds: a forger learns nothing more."""
    past = int(time.time()) - 120
    token = hs256(user_claims(exp=past, iat=past - 60), secret="another-secret-entirely-0123456789")
    await assert_user_route_refuses(client, token)


async def test_token_signed_with_another_secret_is_401(client: httpx.AsyncClient) -> None:
    await assert_user_route_refuses(client, hs256(user_claims(), secret="another-secret-entirely-0123456789"))


async def test_tampered_claims_are_401(client: httpx.AsyncClient) -> None:
    header, _claims, signature = hs256(user_claims(role="student")).split(".")
    forged_claims = hs256(user_claims(role="superAdmin")).split(".")[1]
    await assert_user_route_refuses(client, f"{header}.{forged_claims}.{signature}")


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
async def test_alg_none_is_401(client: httpx.AsyncClient, alg: str) -> None:
    await assert_user_route_refuses(client, craft({"alg": alg, "typ": "JWT"}, user_claims(role="superAdmin")))


@pytest.mark.parametrize("alg", ["HS384", "HS512"])
async def test_other_hmac_algorithms_are_401_even_with_the_right_secret(
    client: httpx.AsyncClient, alg: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)  # the suite's secret is sized for HS256
        token = jwt.encode(user_claims(), TEST_SECRET, algorithm=alg)
    await assert_user_route_refuses(client, token)


async def test_hs256_signature_under_an_rs256_header_is_401(client: httpx.AsyncClient) -> None:
    token = hmac_signed({"alg": "RS256", "typ": "JWT"}, user_claims(), TEST_SECRET.encode())
    await assert_user_route_refuses(client, token)


async def test_rs256_is_refused_when_no_public_key_is_configured(client: httpx.AsyncClient) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    await assert_user_route_refuses(client, jwt.encode(user_claims(), pem, algorithm="RS256"))


@pytest.mark.parametrize("role", ["student", "tutor", "admin"])
async def test_token_without_exp_is_refused_for_ordinary_roles(client: httpx.AsyncClient, role: str) -> None:
    await assert_user_route_refuses(client, hs256(user_claims(role=role, exp=None)))
    claims = user_claims(role=role)
    del claims["exp"]
    await assert_user_route_refuses(client, hs256(claims))


async def test_token_without_exp_is_accepted_for_super_admin(client: httpx.AsyncClient) -> None:
    claims = user_claims(role="superAdmin")
    del claims["exp"]
    assert (await client.get(USER_ROUTE, headers=bearer(hs256(claims)))).status_code == 200


@pytest.mark.parametrize("user_id", ["42", "not-a-uuid", "", None, 12345, ["x"]])
async def test_user_id_must_be_a_uuid(client: httpx.AsyncClient, user_id: Any) -> None:
    claims = user_claims()
    claims["userId"] = user_id
    await assert_user_route_refuses(client, hs256(claims))


async def test_sub_is_used_when_user_id_is_absent(client: httpx.AsyncClient, student: User) -> None:
    claims = user_claims()
    del claims["userId"]
    claims["sub"] = student.id
    response = await client.get(USER_ROUTE, headers=bearer(hs256(claims)))
    assert response.status_code == 200
    assert response.json()["userId"] == student.id


async def test_role_id_may_be_a_list(client: httpx.AsyncClient, student: User) -> None:
    admin_id = str(uuid.uuid4())
    token = hs256(user_claims(admin_id, role=["tutor", "admin"]))
    response = await client.post(
        "/v1/conversations",
        headers=bearer(token),
        json={"conversationType": "adminStudent", "participantA": admin_id, "participantB": student.id},
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    "garbage", ["abc", "a.b.c", "....", "Bearer", "x" * 9000, "eyJhbGciOiJIUzI1NiJ9.@@@.###"]
)
async def test_garbage_tokens_are_401(client: httpx.AsyncClient, garbage: str) -> None:
    response = await client.get(USER_ROUTE, headers={"Authorization": f"Bearer {garbage}"})
    assert_error(response, 401)


async def test_token_from_the_bearer_header(client: httpx.AsyncClient, student: User) -> None:
    response = await client.get(USER_ROUTE, headers={"Authorization": f"bearer {student.token}"})
    assert response.json()["userId"] == student.id


async def test_token_from_the_access_token_query(client: httpx.AsyncClient, student: User) -> None:
    response = await client.get(USER_ROUTE, params={"access_token": student.token})
    assert response.status_code == 200
    assert response.json()["userId"] == student.id


async def test_token_from_the_tutorhub_header(client: httpx.AsyncClient, student: User) -> None:
    response = await client.get(USER_ROUTE, headers={"tutorhub-access-token": student.token})
    assert response.status_code == 200
    assert response.json()["userId"] == student.id


async def test_token_from_the_cookie(client: httpx.AsyncClient, student: User) -> None:
    response = await client.get(USER_ROUTE, headers={"Cookie": f"tutorhub-access-token={student.token}"})
    assert response.status_code == 200
    assert response.json()["userId"] == student.id


async def test_the_first_token_source_found_wins(client: httpx.AsyncClient, student: User) -> None:
    # A bad Bearer token is not rescued by a good cookie: the first source found is the one used.
    response = await client.get(
        USER_ROUTE,
        headers={"Authorization": "Bearer not-a-token", "Cookie": f"tutorhub-access-token={student.token}"},
    )
    assert_error(response, 401)
    response = await client.get(
        USER_ROUTE, params={"access_token": student.token}, headers={"tutorhub-access-token": "bad"}
    )
    assert response.status_code == 200


async def test_service_token_on_a_user_route_is_403(client: httpx.AsyncClient) -> None:
    assert_error(await client.get(USER_ROUTE, headers=service_headers()), 403, "errMsg_userTokenRequired")


async def test_user_token_on_an_m2m_route_is_403(client: httpx.AsyncClient, super_admin: User) -> None:
    response = await client.put(m2m_route(), headers=super_admin.headers, json={"fullname": "x"})
    assert_error(response, 403, "errMsg_m2mTokenRequired")


async def test_service_token_is_accepted_on_an_m2m_route(client: httpx.AsyncClient) -> None:
    response = await client.put(m2m_route(), headers=service_headers("userService"), json={"fullname": "x"})
    assert response.status_code == 201
    assert response.json()["userId"] == "service:userService"


@pytest.mark.parametrize("service_name", [None, "", 5])
async def test_service_token_without_service_name_is_401(
    client: httpx.AsyncClient, service_name: Any
) -> None:
    claims: dict[str, Any] = {"tokenName": M2M_TOKEN_NAME, "exp": int(time.time()) + 600}
    if service_name is not None:
        claims["serviceName"] = service_name
    response = await client.put(m2m_route(), headers=bearer(hs256(claims)), json={"fullname": "x"})
    assert_error(response, 401, "errMsg_invalidToken")


async def test_service_token_without_exp_is_401(client: httpx.AsyncClient) -> None:
    claims = {"tokenName": M2M_TOKEN_NAME, "serviceName": "adminPanel"}
    response = await client.put(m2m_route(), headers=bearer(hs256(claims)), json={"fullname": "x"})
    assert_error(response, 401, "errMsg_invalidToken")


async def test_service_token_signed_with_another_secret_is_401(client: httpx.AsyncClient) -> None:
    claims = {"tokenName": M2M_TOKEN_NAME, "serviceName": "adminPanel", "exp": int(time.time()) + 600}
    token = hs256(claims, secret="not-the-service-secret-0123456789abcdef")
    response = await client.put(m2m_route(), headers=bearer(token), json={"fullname": "x"})
    assert_error(response, 401, "errMsg_invalidToken")


async def test_refused_tokens_never_reach_the_logs(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, student: User
) -> None:
    forged = hs256(user_claims(student.id), secret="another-secret-entirely-0123456789")
    with caplog.at_level(logging.DEBUG):
        await client.get(USER_ROUTE, headers=bearer(forged))
        await client.get(USER_ROUTE, params={"access_token": forged})
        await client.get(USER_ROUTE, headers=student.headers)
    # The test's own HTTP client logs the URLs it requests, query token included: proof that the
    # capture would see a token. Everything else captured comes from the service.
    client_lines = [r.getMessage() for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]
    assert any(forged in line for line in client_lines)
    service_lines = "\n".join(
        record.getMessage() for record in caplog.records if not record.name.startswith(("httpx", "httpcore"))
    )
    for token in (forged, student.token):
        assert token.rsplit(".", 1)[1] not in service_lines
        assert token.split(".")[1] not in service_lines


async def test_a_long_role_list_keeps_the_known_roles_and_is_stored(
    client: httpx.AsyncClient, app: Any, student: User
) -> None:
    """Roles this service does not know grant nothing here and are not kept, so a signed token
    with any number of them still works and the directory keeps what fits its column."""
    admin_id = str(uuid.uuid4())
    roles = [f"platformRole{i:03d}" for i in range(40)] + ["admin", "tutor"]
    token = hs256(user_claims(admin_id, role=roles))
    response = await client.post(
        "/v1/conversations",
        headers=bearer(token),
        json={"conversationType": "adminStudent", "participantA": admin_id, "participantB": student.id},
    )
    assert response.status_code == 201
    async with app.context.db.unit_of_work() as uow:
        entry = await DirectoryRepository(uow.session).get(admin_id)
    assert entry is not None and entry.role_id == "admin,tutor"


async def test_a_long_role_string_is_accepted(client: httpx.AsyncClient) -> None:
    token = hs256(user_claims(role=",".join(["x" * 40] * 20 + ["student"])))
    response = await client.get(USER_ROUTE, headers=bearer(token))
    assert response.status_code == 200
