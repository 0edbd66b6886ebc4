"""JSON Schemas of message content, built from the hub definition's message types.

``messages.content`` checks content against a type's fields; these schemas say the same in
``/openapi.json`` (one object schema per type, keyed by ``messageType`` in the send body), so a
client, or a schema-driven test, can build content the service accepts. Both read the same
``ContentField`` data, so a new type or field shows up in the document without a second list.
"""

from __future__ import annotations

from typing import Any

from tutorhub_messaging.hub.definition import ContentField, HubDefinition, MessageType
from tutorhub_messaging.rest.openapi import NO_NUL_PATTERN, NON_BLANK_PATTERN

# The service relays integers up to 64 bits; the document asks for ones every JSON client reads
# exactly (JavaScript's safe integers), and OpenAPI bounds are floats, which hold this one exactly.
MAX_JSON_INTEGER = 2**53 - 1
DEFAULT_TYPE = "text"
# What ``messages.content.is_web_url`` accepts: an absolute http(s) URL with a host, and no
# whitespace or control characters anywhere.
WEB_URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s\x00-\x1f\x7f/?#@:\[\]]+(:[0-9]{1,5})?([/?#][^\s\x00-\x1f\x7f]*)?$"
)


def field_schema(spec: ContentField) -> dict[str, Any]:
    """One content field as ``messages.content._field_ok`` accepts it."""
    schema: dict[str, Any]
    if spec.kind in ("text", "string", "id"):
        schema = {"type": "string", "pattern": NON_BLANK_PATTERN if spec.required else NO_NUL_PATTERN}
        if spec.kind == "id":
            schema["format"] = "uuid"
        if spec.max_length is not None:
            schema["maxLength"] = spec.max_length
        if spec.choices is not None:
            schema = {"type": "string", "enum": list(spec.choices)}
    elif spec.kind == "url":
        schema = {"type": "string", "pattern": WEB_URL_PATTERN}
        if spec.max_length is not None:
            schema["maxLength"] = spec.max_length
    elif spec.kind == "integer":
        schema = {"type": "integer", "minimum": 0, "maximum": MAX_JSON_INTEGER}
    else:
        schema = {"description": "any JSON value"}
    if not spec.required:
        # A null optional field counts as absent.
        schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def content_schema(message_type: MessageType) -> dict[str, Any]:
    """The content object of one message type; other keys are accepted and dropped."""
    return {
        "title": f"{message_type.name} content",
        "description": "Other keys are dropped, yet they count toward the size limit and must be "
        "JSON the service can relay (integers within 64 bits, nesting under 255 levels).",
        "type": "object",
        "properties": {spec.name: field_schema(spec) for spec in message_type.fields},
        "required": [spec.name for spec in message_type.fields if spec.required],
    }


def content_schemas(hub: HubDefinition) -> dict[str, dict[str, Any]]:
    return {name: content_schema(message_type) for name, message_type in hub.message_types.items()}


def send_body_variants(
    hub: HubDefinition, common: dict[str, Any], *, content_key: str, max_bytes_note: str
) -> list[dict[str, Any]]:
    """One object schema per message type, with ``messageType`` as the key that tells them apart.

    ``common`` holds the other properties of the body; ``messageType`` may be left out (or null)
    for a text message.
    """
    variants = []
    for name, schema in content_schemas(hub).items():
        tag: dict[str, Any] = {"const": name}
        required = [content_key, "messageType"]
        if name == DEFAULT_TYPE:
            tag = {"anyOf": [tag, {"type": "null"}]}
            required = [content_key]
        variants.append(
            {
                "title": f"{name} message",
                "type": "object",
                "properties": {
                    "messageType": tag,
                    content_key: {**schema, "description": f"{max_bytes_note}. {schema['description']}"},
                    **common,
                },
                "required": required,
            }
        )
    return variants


def any_content_schema(hub: HubDefinition, description: str) -> dict[str, Any]:
    """Content of any type (the stored message's type decides which one applies)."""
    return {"anyOf": list(content_schemas(hub).values()), "description": description}
