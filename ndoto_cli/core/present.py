"""How values read to people (the CLI's human output and the console); ``--json`` and the API keep
machine values. Standard library only: any front end may import it cheaply."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any


def when(ts: float | None, *, now: float | None = None, compact: bool = False) -> str:
    """A moment in local time: relative when recent ("just now", "12 min ago"), the time of day
    today ("today 14:05"), else a date. ``compact`` (table columns): "14:05" today, "05-28 14:05"
    before."""
    if not ts:
        return "-"
    current = time.time() if now is None else now
    moment, today = datetime.fromtimestamp(ts), datetime.fromtimestamp(current)
    if compact:
        return moment.strftime("%H:%M") if moment.date() == today.date() else moment.strftime("%m-%d %H:%M")
    ago = current - ts
    if 0 <= ago < 60:
        return "just now"
    if 0 <= ago < 3600:
        return f"{int(ago // 60)} min ago"
    if moment.date() == today.date():
        return f"today {moment:%H:%M}"
    if (today.date() - moment.date()).days == 1:
        return f"yesterday {moment:%H:%M}"
    if moment.year == today.year:
        return f"{moment:%d %b %H:%M}"
    return f"{moment:%Y-%m-%d %H:%M}"


def plain(key: str, value: Any) -> str:
    """One field of a record, as words: times as :func:`when`, nothing as "-", yes/no, lists and
    counts joined, never a Python repr."""
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key.endswith("_at") and isinstance(value, int | float):
        return when(value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {plain(str(k), v)}" if not isinstance(v, dict) else f"{k} ({plain(str(k), v)})" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(plain(key, v) if not isinstance(v, dict) else str(v.get("name") or v.get("id") or v) for v in value)
    return str(value)


_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_moment(text: str, *, now: float | None = None) -> float:
    """A moment people type: a duration from now ("30m", "2h", "1d", "1w", "90min") or a local
    date-time ("2026-12-24 09:00", "2026-12-24T09:00", "2026-12-24" at midnight; an offset
    such as "+01:00" is honoured). Raises ValueError with what is accepted."""
    import re

    current = time.time() if now is None else now
    value = (text or "").strip().lower()
    match = re.fullmatch(r"(\d+)\s*(min|m|h|d|w)", value)
    if match:
        return current + int(match.group(1)) * _UNITS[match.group(2)]
    if value == "tomorrow":
        moment = datetime.fromtimestamp(current).replace(hour=9, minute=0, second=0, microsecond=0)
        return moment.timestamp() + 86_400
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"{text!r} is not a time: give a duration (30m, 2h, 1d, 1w), 'tomorrow' (9:00) "
                         "or a date-time (2026-12-24 09:00)") from None
