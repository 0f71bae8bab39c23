"""Shell completion of the names commands take (bots, inboxes, agents), read from the database.

Typer calls these while the shell completes a word (after ``ndoto --install-completion``). They
read only, never migrate or create a database, and answer nothing rather than fail: a completion
must never print an error into the user's command line.
"""

from __future__ import annotations

import typer


def _names(ctx: typer.Context, incomplete: str, kind: str) -> list[str]:
    try:
        import asyncio
        import os

        from ndoto_cli.commands.output import account_ref
        from ndoto_cli.core.db import Database, sqlite_path
        from ndoto_cli.core.queries import completion_names
        from ndoto_cli.core.services import accounts
        from ndoto_cli.core.settings import get_settings

        settings = get_settings()
        path = sqlite_path(settings.resolved_database_url)
        if path and path != ":memory:" and not os.path.exists(path):
            return []
        system = bool(ctx.params.get("system"))
        ref, _source = account_ref(ctx.params.get("account"))

        async def go() -> list[str]:
            db = Database(settings)
            try:
                async with db.read() as session:
                    account_id = None if system else (await accounts.resolve_account(session, ref)).id
                    return await completion_names(session, kind=kind, account_id=account_id, prefix=incomplete)
            finally:
                await db.close()

        return asyncio.run(go())
    except Exception:  # noqa: BLE001 - nothing to offer is the only safe answer while completing
        return []


def bots(ctx: typer.Context, incomplete: str) -> list[str]:
    return _names(ctx, incomplete, "bot")


def inboxes(ctx: typer.Context, incomplete: str) -> list[str]:
    return _names(ctx, incomplete, "inbox")


def agents(ctx: typer.Context, incomplete: str) -> list[str]:
    return _names(ctx, incomplete, "agent")

