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


def _wait(seconds: float | None) -> str:
    return "-" if seconds is None else (f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min")


def _rating(side: dict[str, Any]) -> str:
    if not side["asked"]:
        return "not asked"
    average = f"{side['average']:.2f}/5" if side["average"] is not None else "-"
    return f"{average} from {side['rated']} of {side['asked']} asked"


def stats_rows(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``bots stats`` as metric and value, the same in the CLI's table and the console's bot view."""
    o = data["outcomes"]

    decided = o["resolved_by_bot"] + o["handed_off"]

    def share(part: int) -> str:  # of the stints the bot itself ended: resolved or handed off
        return f"{part} ({round(100 * part / decided)}%)" if decided else str(part)

    rows = [
        ("conversations handled", str(o["conversations"])),
        ("resolved without a human", share(o["resolved_by_bot"])),
        ("  reopened within 7 days", str(o["reopened_within_7_days"])),
        ("handed off", share(o["handed_off"])),
        *[(f"  {reason}", str(count)) for reason, count in o["handoffs_by_reason"].items()],
        ("closed by a human before an answer", str(o["closed_unanswered"])),
        ("passed to another bot", str(o["passed_to_another_bot"])),
        ("still with the bot", str(o["still_with_bot"])),
        ("median time to first answer", _wait(o["median_first_answer_s"])),
        ("rating, bot-resolved", _rating(o["csat"]["bot_resolved"])),
        ("rating, human-resolved", _rating(o["csat"]["human_resolved"])),
    ]
    if "replies" in data:
        rows += [
            ("answers", str(data["replies"])),
            ("model latency p50 / p95 (ms)", f"{data['latency_ms']['p50']} / {data['latency_ms']['p95']}"),
            ("tokens prompt / completion", f"{data['tokens']['prompt']} / {data['tokens']['completion']}"),
            ("tool calls / failures", f"{data['tool_calls']['calls']} / {data['tool_calls']['failures']}"),
            *[(f"  {name}", f"{c['calls']} / {c['failures']}") for name, c in sorted(data["tool_calls"]["by_tool"].items())],
        ]
    return rows


DAY_COLUMNS = ("day (UTC)", "handled", "resolved", "reopened", "handed off", "first answer")


def stats_day_rows(data: dict[str, Any]) -> list[tuple[str, ...]]:
    return [(d["date"], str(d["conversations"]), str(d["resolved_by_bot"]), str(d["reopened_within_7_days"]),
             str(d["handed_off"]), _wait(d["median_first_answer_s"])) for d in data.get("days", [])]
