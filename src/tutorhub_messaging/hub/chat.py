"""The chat hub of the realtime guide, as data."""

from __future__ import annotations

from types import MappingProxyType

from tutorhub_messaging.hub.definition import (
    AuthorizationSource,
    Condition,
    ContentField,
    HubDefinition,
    MessageType,
    RolePermissions,
)

SYSTEM_ROLE = "system"

MESSAGE_TYPES = {
    "text": MessageType(
        "text",
        (ContentField("body", "text", required=True),),
        preview="{body}",
    ),
    "image": MessageType(
        "image",
        (
            ContentField("mediaUrl", "url", required=True, max_length=2048),
            ContentField("thumbnail", "url", max_length=2048),
            ContentField("caption", "text"),
            ContentField("width", "integer"),
            ContentField("height", "integer"),
        ),
        preview="[image]",
    ),
    "document": MessageType(
        "document",
        (
            ContentField("mediaUrl", "url", required=True, max_length=2048),
            ContentField("fileName", "string", required=True, max_length=1024),
            ContentField("fileSize", "integer"),
            ContentField("mimeType", "string", max_length=255),
        ),
        preview="[document] {fileName}",
    ),
    "system": MessageType(
        "system",
        (
            ContentField("systemAction", "string", required=True, max_length=255),
            ContentField("systemData", "json"),
        ),
        preview="{systemAction}",
    ),
    "warning": MessageType(
        "warning",
        (
            ContentField("body", "text", required=True),
            ContentField("severity", "string", required=True, choices=("info", "warning", "critical")),
            ContentField(
                "resolutionType",
                "string",
                choices=("warn", "requireEdit", "removeCourse", "suspend", "ban"),
            ),
            ContentField("complaintId", "id"),
        ),
        preview="{body}",
    ),
}

CHAT_HUB = HubDefinition(
    name="chat",
    room_object="conversation",
    eligibility=Condition("status", "==", "active"),
    absolute_roles=frozenset({"superAdmin"}),
    absolute_hub_role=SYSTEM_ROLE,
    authorization_sources=(
        AuthorizationSource("participantACheck", "participantA", "member"),
        AuthorizationSource(
            "participantBAdminStudent",
            "participantB",
            "viewer",
            Condition("conversationType", "==", "adminStudent"),
        ),
        AuthorizationSource(
            "participantBCheck",
            "participantB",
            "member",
            Condition("conversationType", "!=", "adminStudent"),
        ),
    ),
    roles=MappingProxyType(
        {
            "member": RolePermissions(read=True, send=True),
            "viewer": RolePermissions(read=True, send=False),
            SYSTEM_ROLE: RolePermissions(
                read=True, send=True, moderate=True, delete_any=True, manage_room=True
            ),
        }
    ),
    message_types=MappingProxyType(MESSAGE_TYPES),
    standard_events=frozenset({"typing", "stopTyping", "messageRead"}),
    read_events=frozenset({"messageRead"}),
    event_keys=MappingProxyType(
        {
            "typing": frozenset(),
            "stopTyping": frozenset(),
            "messageRead": frozenset({"lastReadTimestamp"}),
        }
    ),
)
