"""``ndoto status``: the database, the servers using it, what waits and what fails, warnings."""

from __future__ import annotations

from typing import Any

from ndoto_cli.commands.output import JsonOpt, console, dump_json, run


def status(as_json: JsonOpt = False) -> None:
    """Show the database (path, schema revision, size), the servers and workers using it,
    conversations waiting, deliveries due or failing, bots that need attention, and warnings.

    Example: ndoto status
    """

    async def go(db: Any) -> dict[str, Any]:
        from ndoto_cli.core.db import sqlite_path
        from ndoto_cli.core.db.backup import running
        from ndoto_cli.core.db.database import running_on_postgresql
        from ndoto_cli.core.db.migrate import current, head_revision
        from ndoto_cli.core.services.overview import overview

        path = sqlite_path(db.url)
        async with db.read() as s:
            state = await overview(s, db.settings)
        return {
            "database": {"url": db.display_url, "path": path, "revision": await current(db.reader), "newest": head_revision(),
                         **await db.describe()},
            "processes": running(path) if path and path != ":memory:" else (
                [] if db.is_sqlite else await running_on_postgresql(db.reader)),
            **state,
        }

    data = run(go, as_json=as_json)
    if as_json:
        dump_json(data)
        return
    from ndoto_cli.core.present import when

    out = console()
    d, c, q = data["database"], data["conversations"], data["deliveries"]
    size = f"{d['bytes'] / 1_048_576:.1f} MB" if d["bytes"] >= 1_048_576 else f"{d['bytes'] / 1024:.0f} KB"
    newest = "newest" if d["revision"] == d["newest"] else f"newest is {d['newest']}"
    out.print(f"Database       {d['engine']} {d['version']}: {d['path'] or d['url']} (revision {d['revision']}, {newest}; {size})",
              markup=False, highlight=False)
    if data["processes"]:
        for p in data["processes"]:
            where = f" at {p['address']}" if p.get("address") else (f" on {p['host']}" if p.get("host") else "")
            out.print(f"Running        {p['role']}{where} (pid {p['pid']}, since {when(p['started_at'])})", markup=False, highlight=False)
    else:
        out.print("Running        no server or worker uses this database: start one with `ndoto serve`", markup=False, highlight=False)
    out.print(f"Conversations  {c['pending']} with a bot, {c['open']} open for humans, {c['snoozed']} snoozed, {c['resolved']} resolved",
              markup=False, highlight=False)
    failed = f", {q['failed']} failed ({q['failed_last_day']} in the last day: ndoto deliveries list --status failed)" if q["failed"] else ""
    out.print(f"Deliveries     {q['due']} due now, {q['retrying_later']} waiting to retry{failed}", markup=False, highlight=False)
    for bot in data["bots_needing_attention"]:
        why = f"disabled ({bot['disabled_reason']})" if bot["disabled_reason"] else f"{bot['failed_last_day']} failed deliveries in the last day"
        out.print(f"Bot {bot['name']} (id {bot['id']}): {why}", style="yellow", markup=False, highlight=False)
    for line in data["warnings"]:
        out.print(f"Warning: {line}", style="yellow", markup=False, highlight=False)
