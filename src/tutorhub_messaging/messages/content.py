"""Message content: validated against its type's schema in the hub definition, sized, previewed."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import orjson

from tutorhub_messaging.errors import InvalidInput, PayloadTooLarge
from tutorhub_messaging.hub.definition import ContentField, HubDefinition, MessageType
from tutorhub_messaging.identity.tokens import UUID_RE

PREVIEW_LENGTH = 100
WEB_SCHEMES = frozenset({"http", "https"})


def is_web_url(value: str) -> bool:
    """An absolute ``http``/``https`` URL with a host and nothing a browser would read otherwise
    (no whitespace or control characters): never ``javascript:``, ``data:`` or a relative path."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:
        return False
    return parts.scheme.lower() in WEB_SCHEMES and bool(host)


def _field_ok(spec: ContentField, value: Any) -> bool:
    if spec.kind in ("text", "string", "id", "url"):
        if not isinstance(value, str):
            return False
        if spec.required and not value.strip():
            return False
        if spec.max_length is not None and len(value) > spec.max_length:
            return False
        if spec.kind == "id" and not UUID_RE.match(value):
            return False
        if spec.kind == "url" and not is_web_url(value):
            return False
        return spec.choices is None or value in spec.choices
    if spec.kind == "integer":
        # bool is an int in Python, never in JSON.
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return True  # json: any JSON value


def message_type_of(definition: HubDefinition, name: Any) -> MessageType:
    if not isinstance(name, str) or name not in definition.message_types:
        raise InvalidInput(f"Unknown message type: {str(name)[:40]}", key="errMsg_messageTypeIsNotValid")
    return definition.message_types[name]


def content_size(content: Any) -> int:
    try:
        return len(orjson.dumps(content))
    except orjson.JSONEncodeError:
        # Nesting deeper than 254 levels, an integer beyond 64 bits or a lone surrogate: nothing
        # a JSON client can be sent back.
        raise InvalidInput(
            "content is not relayable JSON (too deeply nested, a number out of range or invalid Unicode)",
            key="errMsg_contentIsNotValid",
        ) from None


def check_size(content: Any, max_bytes: int) -> None:
    if content_size(content) > max_bytes:
        raise PayloadTooLarge(
            f"Message content is larger than {max_bytes} bytes", key="errMsg_messageTooLarge"
        )


def _storable(value: Any) -> bool:
    """No NUL in any string (PostgreSQL cannot store it) and no NaN/Infinity (not JSON, though
    Python's parser accepts them), so what is stored is the same on both databases."""
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(_storable(k) and _storable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_storable(item) for item in value)
    return True


def clean_content(message_type: MessageType, content: Any) -> dict[str, Any]:
    """The content reduced to its type's fields; raises ``InvalidInput`` if it breaks the schema."""
    if not isinstance(content, Mapping):
        raise InvalidInput("content must be an object", key="errMsg_contentIsNotValid")
    cleaned: dict[str, Any] = {}
    for spec in message_type.fields:
        if spec.name not in content or content[spec.name] is None:
            if spec.required:
                raise InvalidInput(
                    f"content.{spec.name} is required for {message_type.name} messages",
                    key="errMsg_contentIsNotValid",
                )
            continue
        value = content[spec.name]
        if not _field_ok(spec, value):
            raise InvalidInput(
                f"content.{spec.name} is not valid for {message_type.name} messages",
                key="errMsg_contentIsNotValid",
            )
        cleaned[spec.name] = value
    if not _storable(cleaned):
        raise InvalidInput(
            "content must not contain NUL characters or non-finite numbers", key="errMsg_contentIsNotValid"
        )
    return cleaned


def validate_content(
    definition: HubDefinition, type_name: Any, content: Any, max_bytes: int
) -> tuple[MessageType, dict[str, Any]]:
    """Type, size and schema checks in the order clients see their errors."""
    message_type = message_type_of(definition, type_name)
    check_size(content, max_bytes)
    return message_type, clean_content(message_type, content)


def preview_of(message_type: MessageType, content: Mapping[str, Any]) -> str:
    text = message_type.preview
    for spec in message_type.fields:
        token = "{" + spec.name + "}"
        if token in text:
            value = content.get(spec.name)
            text = text.replace(token, value if isinstance(value, str) else "")
    text = " ".join(text.split())  # one line in the inbox
    return text[:PREVIEW_LENGTH]
