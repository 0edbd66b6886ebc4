"""Outgoing events: the transactional outbox and the signed webhooks that deliver it.

Every committed change writes its events in its own transaction, so no event exists for a change
that rolled back and no committed change lacks its event. A service records an event with::

    from tutorhub_messaging import outbox

    outbox.record(
        uow,                                  # the current UnitOfWork (or its session)
        type=outbox.CHAT_MESSAGE_UPDATED,     # one of outbox.EVENT_TYPES
        aggregate_id=room_id,                 # always the conversation (room) the change is in
        data=message_record(message),         # the record exactly as the REST API returns it
        previous=previous_record,             # ``*.updated`` events: the record before the change
    )

``record`` only stages the event; just before the unit of work commits, all its staged events are
written with one multi-row insert into ``outbox_event`` (and one into ``webhook_delivery`` for the
configured endpoints), so a batch of hub sends costs two statements, not two per message. The
event's ``aggregatetype`` is ``"conversation"`` and its ``aggregateid`` the room, so every
consumer (webhooks here, Kafka partitions through Debezium) keeps a room's events in commit order.
``chatMessage.created`` events pass ``recipients=[user ids]`` (the participants but the sender);
whether each is online is read from the hub at commit.

The delivery worker (``outbox.worker``) runs in the app's lifespan and knows nothing of REST or
sockets; ``docs/integration.md`` is the consumers' guide.
"""

from tutorhub_messaging.outbox.events import (
    CHAT_MESSAGE_CREATED,
    CHAT_MESSAGE_DELETED,
    CHAT_MESSAGE_UPDATED,
    CHAT_MODERATION_CREATED,
    CHAT_MODERATION_DELETED,
    CONVERSATION_CREATED,
    CONVERSATION_UPDATED,
    EVENT_TYPES,
    READ_STATE_UPDATED,
    OutboxOptions,
    record,
)

__all__ = [
    "CHAT_MESSAGE_CREATED",
    "CHAT_MESSAGE_DELETED",
    "CHAT_MESSAGE_UPDATED",
    "CHAT_MODERATION_CREATED",
    "CHAT_MODERATION_DELETED",
    "CONVERSATION_CREATED",
    "CONVERSATION_UPDATED",
    "EVENT_TYPES",
    "READ_STATE_UPDATED",
    "OutboxOptions",
    "record",
]
