"""``ndoto kb suggest`` and ``ndoto kb suggestions``: FAQ entries drafted from what humans answered
after the bot handed off, and their review (list, edit, accept into the knowledge base, reject)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ndoto_cli.commands.kb import ai_bot
from ndoto_cli.commands.output import AccountOpt, BotArg, JsonOpt, SystemOpt, console, dump_json, run, table

app = typer.Typer(
    help="Review drafted FAQ entries (from `ndoto kb suggest`): list, edit, accept into the knowledge base, reject.\n\n"
         "Example: ndoto kb suggestions list Helper",
    no_args_is_help=True, rich_markup_mode=None,
)
IdArg = Annotated[int, typer.Argument(help="The suggestion's id (ndoto kb suggestions list BOT).")]


async def _reviewable(db: Any, bot: str, account: str | None, system: bool) -> Any:
    from ndoto_cli.core.ai.suggestions import check_reviewer

    found = await ai_bot(db, bot, account, system, "kb")
    check_reviewer(found, as_system=system)
    return found


def suggest(
    bot: BotArg,
    since: Annotated[str | None, typer.Option("--since", help="Only handoffs newer than: 30m, 2h, 7d or an ISO date.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200, help="At most this many conversations in one run.")] = 20,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Draft FAQ entries with the bot's model from the conversations humans resolved after it
    handed them off (each conversation once). Nothing joins the knowledge base until accepted.

    Example: ndoto kb suggest Helper --since 30d
    """
    from ndoto_cli.commands.deliveries import parse_since

    since_ts = parse_since(since)

    async def go(db: Any) -> Any:
        from ndoto_cli.dispatch.ai.suggest import suggest as draft

        found = await _reviewable(db, bot, account, system)
        return await draft(db, db.settings, found, since=since_ts, limit=limit)

    results = run(go, as_json=as_json)
    from ndoto_cli.core.ai.suggestions import suggestion_json

    drafted = [r for r in results if r.suggestion is not None and r.skipped is None]
    if as_json:
        dump_json({
            "drafted": [suggestion_json(r.suggestion) for r in drafted],
            "skipped": [{"conversation_id": r.conversation, "reason": r.skipped} for r in results if r.skipped],
            "failed": [{"conversation_id": r.conversation, "error": r.error} for r in results if r.error],
        })
        return
    out = console()
    if not results:
        out.print("No conversation to learn from: none that humans resolved after this bot handed it off, and not drafted yet.")
        return
    for r in results:
        if r.error:
            out.print(f"#{r.conversation}: not drafted ({r.error}); it is tried again next time.", markup=False)
        elif r.skipped:
            out.print(f"#{r.conversation}: nothing reusable ({r.skipped}).", markup=False)
        else:
            flagged = " [may hold personal data]" if r.suggestion.personal_data else ""
            out.print(f"#{r.conversation}: suggestion {r.suggestion.id}: {r.suggestion.question}{flagged}", markup=False)
    out.print(f"{len(drafted)} drafted. Review them: ndoto kb suggestions list {bot}", markup=False)


@app.command("list")
def list_(
    bot: BotArg,
    status: Annotated[str, typer.Option("--status", help="pending, accepted, rejected, skipped or all.")] = "pending",
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The drafted FAQ entries, with the conversation each came from and what looks personal in it.

    Example: ndoto kb suggestions list Helper --status all
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import suggestions

        found = await _reviewable(db, bot, account, system)
        async with db.read() as s:
            return [suggestions.suggestion_json(r) for r in await suggestions.list_suggestions(s, bot_id=found.id, status=status)]

    rows = run(go, as_json=as_json)
    if as_json:
        dump_json(rows)
        return
    table(["id", "from", "status", "question", "answer", "personal data"], [
        [r["id"], f"#{r['conversation_id']}", r["status"], r["question"], r["answer"][:120],
         ", ".join(f"{p['kind']}: {p['text']}" for p in r["personal_data"]) or "-"] for r in rows
    ], empty=f"No {status if status != 'all' else ''} suggestions. Draft some: ndoto kb suggest {bot}".replace("  ", " "))


def _change(bot: str, suggestion: int, account: str | None, system: bool, as_json: bool, action: Any, *, vectors: bool = False) -> Any:
    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import store, suggestions

        found = await _reviewable(db, bot, account, system)
        async with db.read() as s:
            row = await suggestions.get(s, bot_id=found.id, suggestion_id=suggestion)
        computed = None
        if vectors:  # the entry's vectors, computed before the write (as kb add-faq)
            computed = store.section_vectors(store.faq_entry(row.question, row.answer)[2])

        async def change(s: Any) -> Any:
            fresh = await suggestions.get(s, bot_id=found.id, suggestion_id=suggestion)
            return suggestions.suggestion_json(await action(s, fresh, computed))

        return await db.write(change)

    return run(go, as_json=as_json)


@app.command("edit")
def edit(
    bot: BotArg,
    suggestion: IdArg,
    question: Annotated[str | None, typer.Option("--question", help="The question, as customers ask it.")] = None,
    answer: Annotated[str | None, typer.Option("--answer", help="Its answer.")] = None,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a pending draft before accepting it (its personal-data flags are read again).

    Example: ndoto kb suggestions edit Helper 3 --answer "Gift cards work online and in our shops."
    """
    from ndoto_cli.commands.output import ExitCode, fail

    if question is None and answer is None:
        fail("nothing to change: give --question or --answer", exit_code=ExitCode.USAGE, as_json=as_json)
    from ndoto_cli.core.ai import suggestions

    data = _change(bot, suggestion, account, system, as_json,
                   lambda s, row, _v: suggestions.edit(s, row, question=question, answer=answer))
    if as_json:
        dump_json(data)
        return
    flagged = ", ".join(f"{p['kind']} {p['text']!r}" for p in data["personal_data"])
    console().print(f"Suggestion {data['id']} changed." + (f" It may still hold personal data: {flagged}." if flagged else ""), markup=False)


@app.command("accept")
def accept(
    bot: BotArg,
    suggestion: IdArg,
    keep_personal_data: Annotated[bool, typer.Option("--keep-personal-data", help="Accept a draft flagged for personal data as it is.")] = False,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a draft to the knowledge base as an FAQ entry (refused while it may hold personal data).

    Example: ndoto kb suggestions accept Helper 3
    """
    from ndoto_cli.core.ai import suggestions

    data = _change(bot, suggestion, account, system, as_json,
                   lambda s, row, v: suggestions.accept(s, row, keep_personal_data=keep_personal_data, vectors=v), vectors=True)
    if as_json:
        dump_json(data)
        return
    console().print(f"Suggestion {data['id']} is in the knowledge base: FAQ {data['question']!r} (document {data['document_id']}).", markup=False)


@app.command("reject")
def reject(bot: BotArg, suggestion: IdArg, system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Set a draft aside (it stays listed under --status rejected; its conversation is not drafted again).

    Example: ndoto kb suggestions reject Helper 4
    """
    from ndoto_cli.core.ai import suggestions

    data = _change(bot, suggestion, account, system, as_json, lambda s, row, _v: suggestions.reject(s, row))
    if as_json:
        dump_json(data)
        return
    console().print(f"Suggestion {data['id']} rejected.", markup=False)
