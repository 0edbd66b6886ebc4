"""The ``Idempotency-Key`` request header as a FastAPI dependency."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from tutorhub_messaging.idempotency.service import HEADER, MAX_KEY_LENGTH, check_key


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description=(
                f"At most {MAX_KEY_LENGTH} visible ASCII characters. A retry with the same key "
                "from the same service within the keys' lifetime answers the first call's status "
                "and body without doing the work again; the same key with another request is 409."
            ),
            # Documented only: ``check_key`` refuses other keys with the service's own messages.
            json_schema_extra={"pattern": f"^[\\x21-\\x7e]{{1,{MAX_KEY_LENGTH}}}$"},
        ),
    ] = None,
) -> str | None:
    # ``async`` so that FastAPI calls it in place instead of on its thread pool.
    return check_key(key)


IdempotencyKeyHeader = Annotated[str | None, Depends(idempotency_key)]
