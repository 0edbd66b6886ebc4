"""``GET /dev/demo-users``: one-click sign-in for the web client, in development mode only.

The route is not mounted at all when ``MESSAGING_ENV=production`` (it answers 404 there). In
development the service signs tokens with a well-known built-in key unless one is configured, so
handing out the demo users' tokens gives away nothing a caller could not mint already.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from tutorhub_messaging.demo.seed import demo_seeded
from tutorhub_messaging.demo.users import demo_users
from tutorhub_messaging.identity.tokens import mint_user_token
from tutorhub_messaging.rest.dependencies import Context
from tutorhub_messaging.rest.responses import JsonResponse

router = APIRouter(tags=["development"])

DEMO_TOKEN_TTL_SECONDS = 12 * 3600
SEED_HINT = "Run `tutorhub-messaging demo` (or `serve --demo`) to create the demo users."


class DemoUserToken(BaseModel):
    role: str
    id: str
    fullname: str
    avatar: str
    token: str


class DemoUsers(BaseModel):
    users: list[DemoUserToken]
    hint: str | None


@router.get(
    "/dev/demo-users",
    response_model=DemoUsers,
    summary="Demo users with access tokens (development mode only; 404 in production)",
)
async def demo_users_route(context: Context) -> JsonResponse:
    settings = context.settings
    async with context.db.unit_of_work() as uow:
        seeded = await demo_seeded(uow, settings)
    secret = settings.hs256_secret
    if not seeded or secret is None:
        return JsonResponse({"users": [], "hint": SEED_HINT})
    users = [
        {
            "role": user.role,
            "id": user.id,
            "fullname": user.fullname,
            "avatar": user.avatar,
            "token": mint_user_token(
                secret,
                user_id=user.id,
                role=user.role,
                fullname=user.fullname,
                avatar=user.avatar,
                ttl_seconds=DEMO_TOKEN_TTL_SECONDS,
            ),
        }
        for user in demo_users(settings)
    ]
    return JsonResponse({"users": users, "hint": None})
