"""Body field types for the strict request models of the ``/v1`` routes.

Each type turns bad input into a pydantic error that ``rest.errors.validation_error`` renders as a
clean 400; nothing that a database would refuse (NUL characters, lone surrogates) gets through.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from tutorhub_messaging.identity.tokens import UUID_RE
from tutorhub_messaging.rest.openapi import NO_NUL


def _uuid_of_any(value: Any) -> Any:
    # Before the strict ``str`` check, so a number or object in an ID field is also "not a valid ID".
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise PydanticCustomError("invalid_id", "must be a valid UUID")
    return value.lower()


def _storable(value: str) -> str:
    """PostgreSQL refuses NUL in text, and no database stores a lone surrogate."""
    if "\x00" in value:
        raise PydanticCustomError("invalid_text", "must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("invalid_text", "must be valid Unicode text") from None
    return value


# A UUID; anything else (wrong type included) is ``400 errMsg_<field>isNotAValidID``.
BodyId = Annotated[str, BeforeValidator(_uuid_of_any), WithJsonSchema({"type": "string", "format": "uuid"})]

# Free text of bounded length that every supported database can store.
Name = Annotated[str, StringConstraints(max_length=255), AfterValidator(_storable), NO_NUL]
Title = Annotated[str, StringConstraints(max_length=500), AfterValidator(_storable), NO_NUL]
Url = Annotated[str, StringConstraints(max_length=2048), AfterValidator(_storable), NO_NUL]
Text = Annotated[str, AfterValidator(_storable), NO_NUL]

# A UUID in the path. Documented as one; checked by ``rest.params.path_id`` so that a bad value
# gets the guide's ``errMsg_<name>isNotAValidID`` rather than a generic validation message.
PathId = Annotated[str, Path(json_schema_extra={"format": "uuid"})]
