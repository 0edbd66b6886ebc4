"""Pydantic models that describe the Mindbricks envelopes in ``/openapi.json``.

Routes build their bodies with ``rest.envelope.envelope`` and declare these models as their
response shapes, so the published schema matches what is sent (tests validate bodies against them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class ErrorEnvelope(BaseModel):
    """``{"result":"ERR","status":N,"message":"errMsg_...","errCode":N,"date":ISO,"detail":"..."}``."""

    result: Literal["ERR"]
    status: int
    message: str = Field(description="a stable errMsg_... key")
    errCode: int
    date: str
    detail: str = Field(description="a human sentence")


class SuccessEnvelope(BaseModel):
    """The metadata every success envelope carries; subclasses add the data under its ``dataName``."""

    model_config = ConfigDict(populate_by_name=True)

    status: Literal["OK"]
    statusCode: int
    elapsedMs: int
    ssoTime: int
    source: str
    cacheKey: str | None
    userId: str | None
    sessionId: str | None
    requestId: str | None
    dataName: str
    method: str
    action: Literal["create", "get", "list", "update", "delete"]
    appVersion: str
    rowCount: int


class Paging(BaseModel):
    pageNumber: int
    pageRowCount: int
    totalRowCount: int
    pageCount: int


class ListEnvelope(SuccessEnvelope):
    paging: Paging
    filters: list[Any]
    uiPermissions: list[Any]


_DESCRIPTIONS = {
    400: "Invalid input",
    401: "No or invalid login",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Request body too large",
    500: "Unexpected error (no internals in the body)",
    503: "Database or session store unavailable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the error statuses a route can answer."""
    wanted = sorted({*statuses, 500, 503})
    return {status: {"model": ErrorEnvelope, "description": _DESCRIPTIONS[status]} for status in wanted}


# Text rules the services check in code, written as patterns so the document says them too.
# No NUL character (PostgreSQL cannot store one):
NO_NUL_PATTERN = r"^[^\u0000]*$"
# Something besides whitespace (a required text is checked with ``value.strip()``), and no NUL:
NON_BLANK_PATTERN = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"


@dataclass(frozen=True)
class DocumentedPattern:
    """``Annotated`` metadata that adds a ``pattern`` to a string's JSON Schema only: the value is
    still checked by its validators, which give the clearer error."""

    pattern: str

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema["pattern"] = self.pattern
        return schema


NO_NUL = DocumentedPattern(NO_NUL_PATTERN)
NON_BLANK = DocumentedPattern(NON_BLANK_PATTERN)


def any_case_pattern(options: tuple[str, ...], *extra: str) -> str:
    """A pattern matching any of ``options`` in any letter case (JSON Schema patterns have no
    case-insensitive flag), or exactly one of ``extra``."""

    def any_case(option: str) -> str:
        return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in option)

    return "^(" + "|".join([*(any_case(option) for option in options), *map(re.escape, extra)]) + ")$"
