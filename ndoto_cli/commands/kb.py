"""``ndoto kb``: an AI agent bot's knowledge base (add, list, remove, search)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ndoto_cli.commands.output import (
    AccountOpt,
    BotArg,
    JsonOpt,
    SystemOpt,
    console,
    dump_json,
    fail,
    resolve_account,
    run,
    table,
)

app = typer.Typer(help="Knowledge bases of AI agent bots.\n\nExample: ndoto kb add Helper examples/shop-help/", no_args_is_help=True, rich_markup_mode=None)


async def ai_bot(db: Any, ref: str, account: str | None, system: bool, purpose: str = "kb") -> Any:
    from ndoto_cli.core.services import bots

    scope = None if system else await resolve_account(db, account)
    async with db.read() as s:
        return bots.require_ai(await bots.find_bot(s, account_id=scope, ref=ref), purpose)


def _files(paths: list[Path]) -> list[Path]:
    from ndoto_cli.core.ai.ingest import SUFFIXES

    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES))
        elif path.is_file():
            out.append(path)
        else:
            fail(f"no such file or directory: {path}")
    if not out:
        fail("no Markdown, text, HTML or PDF files found in the given paths")
    return out


@app.command("add")
def add(
    bot: BotArg,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (Markdown, plain text, HTML, PDF).")],
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add documents; re-adding a changed file replaces its passages, an unchanged one is skipped.

    Example: ndoto kb add Helper examples/shop-help/
    """
    files = _files(paths)

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import ingest, store

        found = await ai_bot(db, bot, account, system)
        results = []
        progress = None
        if not as_json:
            from rich.progress import Progress

            progress = Progress(console=console(), transient=True)
            progress.start()
            task = progress.add_task("Ingesting", total=len(files))
        try:
            for path in files:
                raw, sections = ingest.read_document(path)
                embeddings = None
                if db.settings.embedding_model and sections:
                    from ndoto_cli.dispatch.ai.llm import embed

                    embeddings = await embed(
                        model=db.settings.embedding_model, api_base=db.settings.ai_api_base,
                        texts=[f"{s.title}\n{s.content}" for s in sections],
                    )
                doc, changed = await db.write(
                    lambda s, p=path, r=raw, sec=sections, e=embeddings: store.add_document(s, bot_id=found.id, path=p, raw=r, sections=sec, embeddings=e)
                )
                results.append({"id": doc.id, "source": doc.source, "title": doc.title, "passages": doc.passages, "changed": changed})
                if progress is not None:
                    progress.advance(task)
        finally:
            if progress is not None:
                progress.stop()
        return found, results

    found, results = run(go, as_json=as_json)
    if as_json:
        dump_json(results)
        return
    changed = sum(r["changed"] for r in results)
    console().print(
        f"{found.name}: {changed} document(s) added or updated, {len(results) - changed} unchanged, "
        f"{sum(r['passages'] for r in results)} passages in all."
    )


@app.command("list")
def list_(bot: BotArg, system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """List the documents of a bot's knowledge base.

    Example: ndoto kb list Helper
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import store

        found = await ai_bot(db, bot, account, system)
        async with db.read() as s:
            return await store.list_documents(s, bot_id=found.id)

    docs = run(go, as_json=as_json)
    items = [{"id": d.id, "title": d.title, "source": d.source, "passages": d.passages, "sha256": d.sha256} for d in docs]
    if as_json:
        dump_json(items)
    else:
        table(["id", "title", "passages", "source"], [[d["id"], d["title"], d["passages"], d["source"]] for d in items],
              empty=f"Empty knowledge base: ndoto kb add {bot} <files or folder>")


@app.command("remove")
def remove(
    bot: BotArg,
    document: Annotated[str, typer.Argument(help="Document id, file name or path.")],
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a document and its passages.

    Example: ndoto kb remove Helper shipping.md
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import store

        found = await ai_bot(db, bot, account, system)
        return await db.write(lambda s: store.remove_document(s, bot_id=found.id, ref=document))

    doc = run(go, as_json=as_json)
    if as_json:
        dump_json({"id": doc.id, "removed": True})
    else:
        console().print(f"Removed {doc.title} ({doc.source}).")


@app.command("search")
def search(
    bot: BotArg,
    question: Annotated[str, typer.Argument(help="A customer's question.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=20, help="How many passages to show.")] = 4,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the passages retrieval returns for a question, with their scores.

    Example: ndoto kb search Helper "how long do refunds take?"
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.dispatch.ai.agent import retrieve

        found = await ai_bot(db, bot, account, system)
        return await retrieve(db, db.settings, found, question, limit=limit)

    hits = run(go, as_json=as_json)
    items = [{"passage_id": h.passage_id, "score": round(h.score, 4), "title": h.title, "content": h.content, "source": h.source} for h in hits]
    if as_json:
        dump_json(items)
        return
    from rich.markup import escape

    out = console()
    if not items:
        out.print("No passage matches.")
    for i, h in enumerate(items, 1):
        out.print(f"[bold]{i}. {escape(h['title'])}[/bold]  [dim](score {h['score']}, passage {h['passage_id']})[/dim]")
        out.print(escape(h["content"][:400]) + ("..." if len(h["content"]) > 400 else ""), highlight=False)
