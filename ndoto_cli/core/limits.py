"""Input limits every front end shares: text lengths, NUL bytes, JSON depth and size, number ranges.

Why here, in core: the API, the CLI, the console and the widget all write through the services,
and a value that one of them lets in breaks the others when they read it (a contact attribute
nested 300 levels deep made every listing of its account fail to render). So the services check
what they store, and every front end gets the same 422 naming the field.

NUL characters are refused in every text and JSON string: PostgreSQL cannot store them, and a
SQLite database must not hold what a later move to PostgreSQL would refuse.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from ndoto_cli.core.errors import Invalid, NotFound

NAME = 255  # names of accounts, agents, inboxes, bots, contacts
EMAIL = 255
IDENTIFIER = 255  # source ids, contact identifiers, echo ids, phone numbers
URL = 2048
CONTENT = 150_000  # a message's content (Chatwoot's limit)
LONG_TEXT = 50_000  # a bot's system prompt
SHORT_TEXT = 2_000  # descriptions, handoff messages, keywords
MAX_ID = 2**31 - 1  # larger ids cannot exist (id columns are 32-bit INTEGER on PostgreSQL): not found, not a crash
MAX_TIMESTAMP = 253_402_300_799.0  # 9999-12-31T23:59:59Z

SESSION_KEY = "ndoto_limits"


@dataclass(frozen=True)
class Limits:
    """The settable limits, carried by every session the database opens (``session.info``)."""

    json_depth: int = 16
    json_bytes: int = 16_384
    messages_per_minute: int = 200
    allow_private: bool = False  # the address guard's settings (core.addresses)
    allowlist: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        return cls(
            json_depth=settings.json_max_depth,
            json_bytes=settings.json_max_bytes,
            messages_per_minute=settings.conversation_messages_per_minute,
            allow_private=settings.allow_private_addresses,
            allowlist=tuple(settings.private_allowlist),
        )


DEFAULT = Limits()


def of(session: Any) -> Limits:
    """The limits of the database this session belongs to (the defaults for a bare session)."""
    info = getattr(session, "info", None)
    return info.get(SESSION_KEY, DEFAULT) if info is not None else DEFAULT


def text(value: Any, *, field: str, max_length: int) -> str | None:
    """A string field: a string, without NUL, at most ``max_length`` characters (None passes)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{field} must be a string", field=field)
    if "\x00" in value:
        raise Invalid(f"{field} must not contain NUL characters (\\u0000)", field=field)
    if len(value) > max_length:
        raise Invalid(f"{field} is longer than {max_length} characters", field=field)
    return value


def json_object(limits: Limits, value: Any, *, field: str) -> dict[str, Any]:
    """A JSON attribute field: an object, at most ``json_depth`` levels deep and ``json_bytes``
    bytes serialized, with no NUL in keys or strings and no NaN or infinite numbers."""
    if not isinstance(value, dict):
        raise Invalid(f"{field} must be an object", field=field)
    json_value(limits, value, field=field)
    return value


def json_value(limits: Limits, value: Any, *, field: str) -> Any:
    """Any JSON value (object, list, scalar) under the same limits as :func:`json_object`."""
    _walk(value, field=field, max_depth=limits.json_depth)
    try:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise Invalid(f"{field} is not JSON: {exc}", field=field) from None
    if size > limits.json_bytes:
        raise Invalid(f"{field} is {size} bytes serialized, more than the limit of {limits.json_bytes}", field=field)
    return value


def _walk(value: Any, *, field: str, max_depth: int) -> None:
    """Iterative (no recursion): stops at the first level beyond the limit."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > max_depth:
                raise Invalid(f"{field} is nested more than {max_depth} levels deep", field=field)
            for key, child in item.items():
                if not isinstance(key, str):
                    raise Invalid(f"{field} has a key that is not a string", field=field)
                if "\x00" in key:
                    raise Invalid(f"{field} must not contain NUL characters (\\u0000)", field=field)
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > max_depth:
                raise Invalid(f"{field} is nested more than {max_depth} levels deep", field=field)
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            if "\x00" in item:
                raise Invalid(f"{field} must not contain NUL characters (\\u0000)", field=field)
        elif isinstance(item, float) and not math.isfinite(item):
            raise Invalid(f"{field} holds a number that is not finite", field=field)
        elif item is not None and not isinstance(item, (bool, int, float)):
            raise Invalid(f"{field} holds a value that is not JSON", field=field)


def loads_stored(text: str) -> Any:
    """The JSON reader of stored rows (the engines' ``json_deserializer``): a value too deep for
    Python's parser, stored before the limits or by hand, reads as a marker instead of failing."""
    try:
        return json.loads(text)
    except RecursionError:
        return {"_ndoto_error": "this value is nested too deeply to read; it was stored before limits applied"}


def depth(value: Any, *, stop_at: int) -> int:
    """Nesting depth of a JSON value, counted up to ``stop_at`` (cheap on what is stored)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            if deepest >= stop_at:
                return deepest
            stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def integer(value: Any, *, field: str, minimum: int, maximum: int, label: str | None = None) -> int:
    """A whole number in range; numeric strings are accepted (CLI and form input)."""
    label = label or field
    if isinstance(value, bool):
        raise Invalid(f"{label} must be a whole number", field=field)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value.strip()) < 30:
        value = int(value.strip())
    if not isinstance(value, int):
        raise Invalid(f"{label} must be a whole number, not {str(value)[:40]!r}", field=field)
    if value < minimum:
        raise Invalid(f"{label} must be at least {minimum}, not {value}", field=field)
    if value > maximum:
        shown = value if value < 10**12 else f"a {len(str(value))}-digit number"
        raise Invalid(f"{label} must be at most {maximum}, not {shown}", field=field)
    return value


def number(value: Any, *, field: str, minimum: float, maximum: float) -> float:
    """A finite number in range; numeric strings are accepted."""
    if isinstance(value, bool):
        raise Invalid(f"{field} must be a number", field=field)
    try:
        parsed = float(value)
    except (TypeError, ValueError, OverflowError):
        raise Invalid(f"{field} must be a number, not {str(value)[:40]!r}", field=field) from None
    if not math.isfinite(parsed) or not minimum <= parsed <= maximum:
        raise Invalid(f"{field} must be between {minimum:g} and {maximum:g}, not {str(value)[:40]}", field=field)
    return parsed


def row_id(value: Any, *, what: str) -> int:
    """An id to look up: one that cannot exist is simply not found (never a database overflow)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise NotFound(f"{what} {value} not found")
    return value
