"""FastAPI dependencies: the app context, the caller, and the caller's kind."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from tutorhub_messaging.context import AppContext
from tutorhub_messaging.errors import Forbidden, TokenExpiredError, Unauthenticated
from tutorhub_messaging.identity.principal import Principal
from tutorhub_messaging.identity.tokens import InvalidToken, TokenExpired, strip_bearer
from tutorhub_messaging.logs import user_id_var

TOKEN_NAME = "tutorhub-access-token"


async def get_context(request: Request) -> AppContext:
    # ``async``: FastAPI runs a plain ``def`` dependency on its thread pool, a thread hop (and a
    # fight for the GIL) on every request for what is one attribute read.
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


def token_from_request(request: Request) -> str | None:
    """Bearer header, then ``access_token`` query, then header, then cookie (first found wins)."""
    authorization = request.headers.get("authorization")
    if authorization and authorization[:7].lower() == "bearer ":
        return strip_bearer(authorization) or None
    for candidate in (
        request.query_params.get("access_token"),
        request.headers.get(TOKEN_NAME),
        request.cookies.get(TOKEN_NAME),
    ):
        if candidate:
            return strip_bearer(candidate) or None
    return None


async def authenticated(request: Request, context: Context) -> Principal:
    token = token_from_request(request)
    if token is None:
        raise Unauthenticated("Authentication required", key="errMsg_loginRequired")
    try:
        principal = await context.authenticator.authenticate(token)
    except TokenExpired:
        raise TokenExpiredError() from None
    except InvalidToken:
        raise Unauthenticated("Invalid token", key="errMsg_invalidToken") from None
    request.state.principal = principal
    user_id_var.set(principal.user_id)
    await context.directory.refresh_once(context.db.unit_of_work, principal)
    return principal


async def user_caller(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    if principal.is_service:
        raise Forbidden("This route is for users, not services", key="errMsg_userTokenRequired")
    return principal


async def service_caller(principal: Annotated[Principal, Depends(authenticated)]) -> Principal:
    if not principal.is_service:
        raise Forbidden("This route accepts service (M2M) tokens only", key="errMsg_m2mTokenRequired")
    return principal


CurrentUser = Annotated[Principal, Depends(user_caller)]
ServiceCaller = Annotated[Principal, Depends(service_caller)]
