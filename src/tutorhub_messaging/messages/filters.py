"""The nine filters of ``listChatMessages``, parsed from query values into plain data.

The guide's forms: a repeated parameter means "any of", the literal ``null`` means "is null".
ID filters match exactly, string filters are case-insensitive partial matches, enum filters are
case-insensitive exact matches, ``timestamp`` is a case-insensitive partial match on the ISO text
and the object filters (``content``, ``replyTo``) match a substring of the JSON text.
Nothing here touches SQL: ``MessageRepository.search`` turns a ``MessageQuery`` into a statement.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Final

from tutorhub_messaging.db.models import MESSAGE_STATUSES, MESSAGE_TYPES
from tutorhub_messaging.errors import InvalidInput, invalid_id
from tutorhub_messaging.identity.tokens import UUID_RE
from tutorhub_messaging.ops.metrics import SEARCH_REFUSALS

NULL: Final = "null"


@dataclass(frozen=True, slots=True)
class FilterLimits:
    """How much one search may ask for: every value is a pattern each candidate row is matched
    against, so these bound a search's work per row."""

    values_per_filter: int = 20
    values: int = 40  # all filters together
    value_length: int = 200


class Match(Enum):
    EXACT = "exact"  # IDs and (canonicalised) enum values
    PARTIAL = "partial"  # case-insensitive substring of a string column
    JSON_TEXT = "json_text"  # case-insensitive substring of an object's JSON text


@dataclass(frozen=True, slots=True)
class FieldFilter:
    field: str
    match: Match
    values: tuple[str, ...]
    include_null: bool


@dataclass(frozen=True, slots=True)
class TimeRange:
    start: datetime
    end: datetime | None  # exclusive; None past the last representable year


@dataclass(frozen=True, slots=True)
class TimeFilter:
    ranges: tuple[TimeRange, ...]  # values that are a prefix of the ISO text (index-friendly)
    substrings: tuple[str, ...]  # any other value: matched inside the ISO text
    include_null: bool


@dataclass(frozen=True, slots=True)
class MessageQuery:
    fields: tuple[FieldFilter, ...] = ()
    timestamp: TimeFilter | None = None

    @property
    def room_ids(self) -> tuple[str, ...]:
        """The rooms the ``roomId`` filter names (the caller must be allowed to read each)."""
        return next((f.values for f in self.fields if f.field == "roomId"), ())


def _refused(reason: str, message: str, field: str) -> InvalidInput:
    SEARCH_REFUSALS.labels(reason=reason).inc()
    return InvalidInput(message, key=f"errMsg_{field}isNotValid")


def _checked_values(field: str, raw: list[str], limits: FilterLimits) -> list[str]:
    if len(raw) > limits.values_per_filter:
        raise _refused("values", f"{field} may be given at most {limits.values_per_filter} times", field)
    for value in raw:
        if len(value) > limits.value_length:
            raise _refused("length", f"{field} values may be at most {limits.value_length} characters", field)
        if "\x00" in value:
            # Nothing stored contains NUL (PostgreSQL refuses it), and PostgreSQL cannot bind it.
            raise InvalidInput(f"{field} must not contain NUL characters", key=f"errMsg_{field}isNotValid")
    return raw


def _split_null(values: list[str]) -> tuple[list[str], bool]:
    rest = [v for v in values if v != NULL]
    return rest, len(rest) != len(values)


def id_filter(field: str, raw: list[str], limits: FilterLimits) -> FieldFilter:
    values, include_null = _split_null(_checked_values(field, raw, limits))
    for value in values:
        if not UUID_RE.match(value):
            raise invalid_id(field)
    return FieldFilter(field, Match.EXACT, tuple(dict.fromkeys(v.lower() for v in values)), include_null)


def enum_filter(field: str, raw: list[str], options: tuple[str, ...], limits: FilterLimits) -> FieldFilter:
    values, include_null = _split_null(_checked_values(field, raw, limits))
    by_folded = {option.casefold(): option for option in options}
    canonical: list[str] = []
    for value in values:
        option = by_folded.get(value.casefold())
        if option is None:
            raise InvalidInput(
                f"{field} must be one of {', '.join(options)} (or null)", key=f"errMsg_{field}isNotValid"
            )
        canonical.append(option)
    return FieldFilter(field, Match.EXACT, tuple(dict.fromkeys(canonical)), include_null)


def text_filter(field: str, raw: list[str], match: Match, limits: FilterLimits) -> FieldFilter | None:
    """None when only empty values were given: ``?senderName=`` filters nothing."""
    values, include_null = _split_null(_checked_values(field, raw, limits))
    kept = tuple(dict.fromkeys(v for v in values if v))
    return FieldFilter(field, match, kept, include_null) if kept or include_null else None


# --- timestamp: ISO text "YYYY-MM-DDTHH:MM:SS.mmmZ" -------------------------------------------

ISO_TEMPLATE = "dddd-dd-ddTdd:dd:dd.dddZ"
# (start, end) of each numeric field in the ISO text, in order.
_FIELD_SPANS = ((0, 4), (5, 7), (8, 10), (11, 13), (14, 16), (17, 19), (20, 23))
_STARTS_WITH_YEAR = re.compile(r"^\d{4}")


def _fits_template(prefix: str) -> bool:
    if len(prefix) > len(ISO_TEMPLATE):
        return False
    return all(
        ch.isdigit() if slot == "d" else ch == slot for ch, slot in zip(prefix, ISO_TEMPLATE, strict=False)
    )


def _field_bounds(index: int, fixed: list[int]) -> tuple[int, int]:
    """Valid values of field ``index`` given the fields before it."""
    if index == 1:
        return 1, 12
    if index == 2:
        return 1, calendar.monthrange(fixed[0], fixed[1])[1]
    return ((1, 9999), (1, 12), (1, 31), (0, 23), (0, 59), (0, 59), (0, 999))[index]


def _moment(fields: list[int]) -> datetime:
    full = fields + [1, 1, 0, 0, 0, 0][len(fields) - 1 :]
    year, month, day, hour, minute, second, millis = full
    return datetime(year, month, day, hour, minute, second, millis * 1000, tzinfo=UTC)


def _after(fields: list[int]) -> datetime | None:
    """The first moment after the unit the fields name (a whole year, month, day, ... millisecond)."""
    start = _moment(fields)
    depth = len(fields)
    try:
        if depth == 1:
            return start.replace(year=start.year + 1)
        if depth == 2:
            return (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        steps = (timedelta(days=1), timedelta(hours=1), timedelta(minutes=1), timedelta(seconds=1))
        return start + (steps[depth - 3] if depth < 7 else timedelta(milliseconds=1))
    except (ValueError, OverflowError):
        return None  # past year 9999: no upper bound


def iso_prefix_range(value: str) -> TimeRange | None:
    """The moments whose ISO text starts with ``value``, or None when no moment can.

    ISO text sorts like time, so a prefix names one contiguous range: the fields before the last
    one given are fixed, the last may be partly typed (``2026-1`` is October to December).
    """
    prefix = value.upper()
    if not _fits_template(prefix):
        return None
    fixed: list[int] = []
    for index, (start, end) in enumerate(_FIELD_SPANS):
        typed = prefix[start:end]
        if not typed:
            break
        low_bound, high_bound = _field_bounds(index, fixed)
        width = end - start
        scale = 10 ** (width - len(typed))
        low, high = max(int(typed) * scale, low_bound), min((int(typed) + 1) * scale - 1, high_bound)
        if low > high:
            return None  # e.g. month 13, or 2026-02-3x
        if len(typed) < width:  # the last field, partly typed
            start_moment = _moment([*fixed, low])
            return TimeRange(start_moment, _after([*fixed, high]))
        fixed.append(low)
    if not fixed:
        return None
    return TimeRange(_moment(fixed), _after(fixed))


def timestamp_filter(raw: list[str], limits: FilterLimits) -> TimeFilter | None:
    """None when only empty values were given; a value no moment can match matches nothing."""
    values, include_null = _split_null(_checked_values("timestamp", raw, limits))
    if not include_null and not any(values):
        return None
    ranges: list[TimeRange] = []
    substrings: list[str] = []
    for value in values:
        if not value:
            continue
        if _STARTS_WITH_YEAR.match(value):
            # Four digits occur only in the year, so such a value can only match as a prefix.
            matched = iso_prefix_range(value)
            if matched is not None:
                ranges.append(matched)
        else:
            substrings.append(value.upper())
    return TimeFilter(tuple(ranges), tuple(dict.fromkeys(substrings)), include_null)


def message_query(
    *,
    room_id: list[str] | None = None,
    sender_id: list[str] | None = None,
    sender_name: list[str] | None = None,
    sender_avatar: list[str] | None = None,
    message_type: list[str] | None = None,
    content: list[str] | None = None,
    timestamp: list[str] | None = None,
    status: list[str] | None = None,
    reply_to: list[str] | None = None,
    limits: FilterLimits | None = None,
) -> MessageQuery:
    """Parse the query parameters as given (each a list of its repeated values, or None)."""
    limits = limits or FilterLimits()
    fields: list[FieldFilter | None] = []
    if room_id is not None:
        fields.append(id_filter("roomId", room_id, limits))
    if sender_id is not None:
        fields.append(id_filter("senderId", sender_id, limits))
    if sender_name is not None:
        fields.append(text_filter("senderName", sender_name, Match.PARTIAL, limits))
    if sender_avatar is not None:
        fields.append(text_filter("senderAvatar", sender_avatar, Match.PARTIAL, limits))
    if message_type is not None:
        fields.append(enum_filter("messageType", message_type, MESSAGE_TYPES, limits))
    if status is not None:
        fields.append(enum_filter("status", status, MESSAGE_STATUSES, limits))
    if content is not None:
        fields.append(text_filter("content", content, Match.JSON_TEXT, limits))
    if reply_to is not None:
        fields.append(text_filter("replyTo", reply_to, Match.JSON_TEXT, limits))
    time_filter = timestamp_filter(timestamp, limits) if timestamp is not None else None
    # After each filter's own checks, so a single overlong filter is named in the refusal.
    given = (
        room_id,
        sender_id,
        sender_name,
        sender_avatar,
        message_type,
        content,
        timestamp,
        status,
        reply_to,
    )
    if sum(len(values) for values in given if values is not None) > limits.values:
        SEARCH_REFUSALS.labels(reason="values").inc()
        raise InvalidInput(
            f"A search may give at most {limits.values} filter values in all", key="errMsg_filtersAreNotValid"
        )
    return MessageQuery(tuple(f for f in fields if f is not None), time_filter)
