"""``PUT /v1/m2m/users/{userId}``: the user service tells the directory who a user is."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema
from pydantic_core import PydanticCustomError

from tutorhub_messaging.db.database import UnitOfWork
from tutorhub_messaging.identity.directory import DirectoryEntry, DirectoryRepository
from tutorhub_messaging.rest.fields import Name, Url
from tutorhub_messaging.rest.openapi import SuccessEnvelope

ROLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
MAX_ROLE_ID_LENGTH = 255  # the directory column


def _role_id(value: Any) -> Any:
    """A role name or a list of them, stored as the directory keeps roles: sorted, comma-joined."""
    if value is None:
        return None
    if isinstance(value, str):
        names = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        names = [item.strip() for item in value if item.strip()]
    else:
        raise PydanticCustomError("invalid_role", "must be a role name or a list of role names")
    if not all(ROLE_NAME.match(name) for name in names):
        raise PydanticCustomError("invalid_role", "role names are letters, digits, '_' and '-'")
    joined = ",".join(sorted(set(names)))
    if len(joined) > MAX_ROLE_ID_LENGTH:
        raise PydanticCustomError("invalid_role", "too many roles")
    return joined or None


# Documented as ``_role_id`` reads it: names separated by commas (blank parts are dropped).
_ROLE = r"[A-Za-z][A-Za-z0-9_-]{0,63}"
ROLE_LIST_PATTERN = rf"^\s*({_ROLE})?\s*(,\s*({_ROLE})?\s*)*$"
ROLE_ITEM_PATTERN = rf"^\s*({_ROLE})?\s*$"
RoleId = Annotated[
    str | None,
    BeforeValidator(_role_id),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": ROLE_LIST_PATTERN},
                {"type": "array", "items": {"type": "string", "pattern": ROLE_ITEM_PATTERN}},
                {"type": "null"},
            ],
            "description": f"role names (letters, digits, '_' and '-'), at most {MAX_ROLE_ID_LENGTH} "
            "characters when joined with commas",
        }
    ),
]


class UserSyncBody(BaseModel):
    """Every field replaces the stored one: a missing or null field clears it."""

    model_config = ConfigDict(strict=True, extra="ignore")

    fullname: Name | None = None
    avatar: Url | None = None
    roleId: RoleId = None


class DirectoryUserRecord(BaseModel):
    id: str
    fullname: str | None
    avatar: str | None
    roleId: str | None


class DirectoryUserEnvelope(SuccessEnvelope):
    user: DirectoryUserRecord


def directory_user_record(entry: DirectoryEntry) -> dict[str, Any]:
    return {"id": entry.id, "fullname": entry.fullname, "avatar": entry.avatar, "roleId": entry.role_id}


async def sync_user(uow: UnitOfWork, user_id: str, body: UserSyncBody) -> tuple[dict[str, Any], bool]:
    """Store the user as reported; True when the directory did not know them yet."""
    directory = DirectoryRepository(uow.session)
    known = await directory.get(user_id) is not None
    entry = DirectoryEntry(user_id, body.fullname or None, body.avatar or None, body.roleId)
    await directory.upsert(entry, keep_known_values=False)
    return directory_user_record(entry), not known
