"""Request value types shared by the REST routes."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from tutorhub_messaging.errors import invalid_id
from tutorhub_messaging.identity.tokens import UUID_RE


def _check_uuid(value: str) -> str:
    if not UUID_RE.match(value):
        raise PydanticCustomError("invalid_id", "must be a valid UUID")
    return value.lower()


# A UUID in a body field: a bad one is ``400 errMsg_<field>isNotAValidID``.
Id = Annotated[str, AfterValidator(_check_uuid), WithJsonSchema({"type": "string", "format": "uuid"})]


def path_id(value: str, field: str) -> str:
    """Check an ID taken from the path, with the guide's error message."""
    if not UUID_RE.match(value):
        raise invalid_id(field)
    return value.lower()
