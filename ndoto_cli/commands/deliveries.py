"""``ndoto deliveries``: see every delivery's state and attempts, and retry failures."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
from typing import Annotated, Any

import typer

from ndoto_cli.commands import complete
from ndoto_cli.commands.output import (
    AccountOpt,
    ExitCode,
    JsonOpt,
    YesOpt,
    confirm,
    console,
    dump_json,
    fail,
    resolve_account,
    run,
    table,
)

app = typer.Typer(help="Deliveries of events to bots: state, attempts, retries.\n\nExample: ndoto deliveries list --status failed", no_args_is_help=True, rich_markup_mode=None)


class DeliveryStatusChoice(str, Enum):
    pending = "pending"
    delivering = "delivering"
    delivered = "delivered"
    failed = "failed"


UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(value: str) -> float | None:
    number, unit = (value[:-1], value[-1]) if value[-1:] in UNITS else (value, "s")
    return float(number) * UNITS[unit] if number.replace(".", "", 1).isdigit() else None


def parse_duration(value: str, option: str) -> float:
    """``90``, ``90s``, ``30m``, ``2h``, ``7d``: seconds."""
    seconds = _seconds(value.strip())
    if seconds is None:
        fail(f"{option} must look like 90s, 30m, 2h or 7d (0 for never), not {value!r}", exit_code=ExitCode.USAGE)
    return seconds


def parse_since(value: str | None, option: str = "--since") -> float | None:
    """``30m``, ``2h``, ``7d`` ago, or an ISO date/time."""
    if value is None:
        return None
    value = value.strip()
    try:
        if value[-1:] in UNITS and (seconds := _seconds(value)) is not None:
            return (datetime.now() - timedelta(seconds=seconds)).timestamp()
        return datetime.fromisoformat(value).timestamp()
    except (ValueError, OverflowError):
        fail(f"{option} must look like 30m, 2h, 7d or 2026-11-25T10:00, not {value!r}", exit_code=ExitCode.USAGE)


BotOpt = Annotated[str | None, typer.Option("--bot", help="Bot id or name.", autocompletion=complete.bots)]
SinceOpt = Annotated[str | None, typer.Option("--since", help="Only newer than: 30m, 2h, 7d or an ISO date.")]


async def _bot_id(db: Any, account_id: int, bot: str | None) -> int | None:
    if bot is None:
        return None
    from ndoto_cli.core.services import bots

    async with db.read() as s:
        return (await bots.find_bot(s, account_id=account_id, ref=bot)).id


@app.command("list")
def list_(
    bot: BotOpt = None,
    status: Annotated[DeliveryStatusChoice | None, typer.Option("--status", help="pending, delivering, delivered or failed.")] = None,
    since: SinceOpt = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="At most this many, newest first.")] = 50,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List deliveries, newest first.

    Example: ndoto deliveries list --status failed --since 1d
    """
    since_ts = parse_since(since)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import deliveries

        account_id = await resolve_account(db, account)
        bot_id = await _bot_id(db, account_id, bot)
        async with db.read() as s:
            rows = await deliveries.list_deliveries(
                s, account_id=account_id, bot_id=bot_id, status=status.value if status else None, since=since_ts, limit=limit
            )
            names = await deliveries.bot_names(s, [d.agent_bot_id for d, _name in rows])
        return [deliveries.delivery_json(d, name) for d, name in rows], names

    items, names = run(go, as_json=as_json)
    if as_json:
        dump_json(items)
        return
    from ndoto_cli.core.present import when

    table(
        ["id", "event", "bot", "conversation", "status", "attempts", "last result", "created"],
        [
            [d["id"], d["event"], names.get(d["agent_bot_id"], d["agent_bot_id"]), d["conversation_id"] or "-", d["status"], d["attempts"],
             d["last_error"] or (d["last_status_code"] or ""), when(d["created_at"])]
            for d in items
        ],
        empty="No deliveries match.",
    )


@app.command("show")
def show(delivery: Annotated[int, typer.Argument(help="Delivery id.")], account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Show one delivery and each attempt: time, duration, status code or error, response excerpt.

    Example: ndoto deliveries show 42
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import deliveries

        account_id = await resolve_account(db, account)
        async with db.read() as s:
            d, event, attempts = await deliveries.get_delivery(s, delivery_id=delivery, account_id=account_id)
        return deliveries.detail_json(d, event, attempts)

    data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
        return
    out = console()
    out.print(
        f"Delivery {data['id']}: {data['event']} to bot {data['agent_bot_id']} - {data['status']} after {data['attempts']} attempt(s); "
        f"webhook-id {data['webhook_id']}", highlight=False,
    )
    table(
        ["time", "ms", "status", "error", "response"],
        [[datetime.fromtimestamp(a["started_at"]).strftime("%H:%M:%S"), a["duration_ms"], a["status_code"] or "-", a["error"] or "",
          (a["response_excerpt"] or "")[:60]] for a in data["attempt_log"]],
        empty="No attempt yet.",
    )


@app.command("retry")
def retry(
    delivery: Annotated[int | None, typer.Argument(help="Delivery id (or use --failed).")] = None,
    failed: Annotated[bool, typer.Option("--failed", help="Retry every failed delivery (with --bot/--since to narrow).")] = False,
    bot: BotOpt = None,
    since: SinceOpt = None,
    yes: YesOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make deliveries due again now (same webhook-id, so receivers can drop duplicates);
    --failed in bulk asks first.

    Example: ndoto deliveries retry --failed --bot OrderBot --since 1d --yes
    """
    if (delivery is None) == (not failed):
        fail("give a delivery id or --failed", exit_code=ExitCode.USAGE, as_json=as_json)
    since_ts = parse_since(since)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.services import deliveries

        account_id = await resolve_account(db, account)
        if delivery is not None:
            async with db.read() as s:
                await deliveries.get_delivery(s, delivery_id=delivery, account_id=account_id)
            return await db.write(lambda s: deliveries.retry(s, delivery_ids=[delivery])), 1
        bot_id = await _bot_id(db, account_id, bot)
        async with db.read() as s:
            count = len(await deliveries.failed_ids(s, account_id=account_id, bot_id=bot_id, since=since_ts))
        if count == 0:
            return 0, 0
        confirm(f"Send {count} failed deliveries again?", yes=yes, as_json=as_json)
        if as_json:
            return await deliveries.retry_failed(db, account_id=account_id, bot_id=bot_id, since=since_ts)
        from rich.progress import Progress

        with Progress(console=console()) as progress:
            task = progress.add_task("Retrying failed deliveries", total=count)
            return await deliveries.retry_failed(
                db, account_id=account_id, bot_id=bot_id, since=since_ts, on_progress=lambda n: progress.advance(task, n)
            )

    done, considered = run(go, as_json=as_json)
    if as_json:
        dump_json({"retried": done, "considered": considered})
    else:
        console().print(f"{done} deliver{'y' if done == 1 else 'ies'} due again; `ndoto serve` or `ndoto worker` sends them.")
