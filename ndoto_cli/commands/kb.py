"""``ndoto kb``: an AI agent bot's knowledge base (add, list, remove, search)."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
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

DocArg = Annotated[str, typer.Argument(help="Document id, file name, path, or an FAQ entry's question.")]

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
        with _progress(as_json, "Ingesting", len(files)) as advance:
            for path in files:
                raw, sections = ingest.read_document(path)
                embeddings = None
                if db.settings.embedding_model and sections:
                    from ndoto_cli.dispatch.ai.llm import embed

                    embeddings = await embed(
                        model=db.settings.embedding_model, api_base=db.settings.ai_api_base,
                        texts=[f"{s.title}\n{s.content}" for s in sections],
                    )
                vectors = store.section_vectors(sections)
                doc, changed = await db.write(
                    lambda s, p=path, r=raw, sec=sections, e=embeddings, v=vectors: store.add_document(
                        s, bot_id=found.id, path=p, raw=r, sections=sec, embeddings=e, vectors=v)
                )
                results.append({"id": doc.id, "source": doc.source, "title": doc.title, "passages": doc.passages, "changed": changed})
                advance()
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
    document: DocArg,
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


def _queries(path: Path) -> list[str]:
    """Questions from JSON lines ({"question": ...}, or a bare JSON string a line), or - for standard input."""
    import json

    if str(path) != "-" and not path.is_file():
        fail(f"no such file: {path}")
    text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8-sig")
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"{path}, line {n}: not JSON ({exc.msg}); one {{\"question\": ...}} a line")
        question = record.get("question", record.get("text")) if isinstance(record, dict) else record
        if not isinstance(question, str) or not question.strip():
            fail(f"{path}, line {n}: needs a \"question\" string")
        out.append(question)
    return out


def _hit_json(h: Any) -> dict[str, Any]:
    return {"passage_id": h.passage_id, "score": round(h.score, 4), "title": h.title, "content": h.content, "source": h.source}


@app.command("search")
def search(
    bot: BotArg,
    question: Annotated[str | None, typer.Argument(help="A customer's question (or --queries).")] = None,
    queries: Annotated[Path | None, typer.Option("--queries", help="Many questions in one go: JSON lines ({\"question\": ...}), - for standard input; answers are JSON lines.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=20, help="How many passages to show.")] = 4,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the passages retrieval returns for a question, with their scores.

    Example: ndoto kb search Helper "how long do refunds take?"
    """
    if (question is None) == (queries is None):
        fail("give a question, or --queries FILE (not both)")
    questions = [question] if question is not None else _queries(queries)  # type: ignore[arg-type]

    async def go(db: Any) -> Any:
        from ndoto_cli.dispatch.ai.agent import retrieve

        found = await ai_bot(db, bot, account, system)
        if queries is None:
            return await retrieve(db, db.settings, found, questions[0], limit=limit)
        out = sys.stdout
        for q in questions:  # one process for all: the start-up and the model load are paid once
            hits = await retrieve(db, db.settings, found, q, limit=limit)
            out.write(json.dumps({"question": q, "hits": [_hit_json(h) for h in hits]}, ensure_ascii=False) + "\n")
        out.flush()
        return None

    hits = run(go, as_json=as_json or queries is not None)
    if queries is not None:
        return
    items = [_hit_json(h) for h in hits]
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


@app.command("add-faq")
def add_faq(
    bot: BotArg,
    question: Annotated[str, typer.Option("--question", help="The question, as customers ask it.")],
    answer: Annotated[str, typer.Option("--answer", help="Its answer.")],
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add one FAQ entry; the same question again replaces its answer.

    Example: ndoto kb add-faq Helper --question "Do you ship abroad?" --answer "Only within Zambia."
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import store

        found = await ai_bot(db, bot, account, system)
        _source, _raw, sections = store.faq_entry(question, answer)
        vectors = store.section_vectors(sections)
        return await db.write(lambda s: store.add_faq(s, bot_id=found.id, question=question, answer=answer, vectors=vectors))

    doc, changed = run(go, as_json=as_json)
    if as_json:
        dump_json({"id": doc.id, "source": doc.source, "title": doc.title, "passages": doc.passages, "changed": changed})
    else:
        console().print(f"{'Added' if changed else 'Unchanged:'} FAQ {doc.title!r} (document {doc.id}, {doc.passages} passage(s)).", highlight=False)


def _faq_rows(path: Path) -> list[tuple[int, str, str]]:
    """(line, question, answer) from a CSV with question and answer columns, or JSON lines with
    those keys; a malformed file is one clear error naming the line."""
    import csv
    import json

    if str(path) != "-" and not path.is_file():
        fail(f"no such file: {path}")
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{path} is not UTF-8 text")
    rows: list[tuple[int, str, str]] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        fields = {(f or "").strip().lower(): f for f in reader.fieldnames or []}
        if "question" not in fields or "answer" not in fields:
            fail(f"{path}: the CSV needs a header with question and answer columns (has: {', '.join(reader.fieldnames or []) or 'none'})")
        for n, record in enumerate(reader, start=2):
            rows.append((n, record.get(fields["question"]) or "", record.get(fields["answer"]) or ""))
        return rows
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            fail(f"{path}, line {n}: not JSON ({exc.msg}); one object a line, with question and answer")
        if not isinstance(record, dict) or not isinstance(record.get("question"), str) or not isinstance(record.get("answer"), str):
            fail(f"{path}, line {n}: needs \"question\" and \"answer\" strings")
        rows.append((n, record["question"], record["answer"]))
    return rows


@app.command("import-faq")
def import_faq(
    bot: BotArg,
    path: Annotated[Path, typer.Argument(help="A CSV file with question and answer columns, or JSON lines (.jsonl) with those keys; - for standard input (JSON lines).")],
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add many FAQ entries at once; entries already there with the same answer are skipped.

    Example: ndoto kb import-faq Helper faq.csv
    """
    from ndoto_cli.core.errors import Invalid

    rows = _faq_rows(path)
    if not rows:
        fail(f"{path}: no FAQ entries in it")

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import store

        found = await ai_bot(db, bot, account, system)
        entries = []
        for line, question, answer in rows:  # every entry is checked before any is written
            try:
                entries.append((question, answer, store.faq_entry(question, answer)[2]))
            except Invalid as exc:
                raise Invalid(f"{path}, line {line}: {exc.message}", field=exc.field) from None
        results = []
        with _progress(as_json, "Importing", len(entries)) as advance:
            for question, answer, sections in entries:
                vectors = store.section_vectors(sections)
                doc, changed = await db.write(
                    lambda s, q=question, a=answer, v=vectors: store.add_faq(s, bot_id=found.id, question=q, answer=a, vectors=v))
                results.append({"id": doc.id, "title": doc.title, "passages": doc.passages, "changed": changed})
                advance()
        return found, results

    found, results = run(go, as_json=as_json)
    if as_json:
        dump_json(results)
        return
    changed = sum(r["changed"] for r in results)
    console().print(f"{found.name}: {changed} FAQ entr{'y' if changed == 1 else 'ies'} added or updated, {len(results) - changed} unchanged.")


@contextlib.contextmanager
def _progress(quiet: bool, label: str, total: int) -> Iterator[Any]:
    """A progress bar on the terminal (none for --json); yields the function that advances it (by 1, or n)."""
    if quiet:
        yield lambda n=1: None
        return
    from rich.progress import Progress

    progress = Progress(console=console(), transient=True)
    task = progress.add_task(label, total=total)
    with progress:
        yield lambda n=1: progress.advance(task, n)


@app.command("reindex")
def reindex(bot: BotArg, system: SystemOpt = False, account: AccountOpt = None, as_json: JsonOpt = False) -> None:
    """Give passages added before this version (or by another model) their offline vectors.

    Example: ndoto kb reindex Helper
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import store

        found = await ai_bot(db, bot, account, system)
        async with db.read() as s:
            total = await store.count_to_reindex(s, bot_id=found.id)
        with _progress(as_json, "Embedding", total) as advance:
            done = await store.reindex(db, bot_id=found.id, on_progress=advance)
        return found, done

    found, done = run(go, as_json=as_json)
    if as_json:
        dump_json({"bot": found.name, "reindexed": done})
    else:
        console().print(f"{found.name}: {done} passage(s) given their vectors." if done else f"{found.name}: every passage has its vectors already.")


@app.command("show")
def show(
    bot: BotArg,
    document: DocArg,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A document's passages as they are indexed: what the AI agent can find and quote.

    Example: ndoto kb show Helper shipping.md
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import store

        found = await ai_bot(db, bot, account, system)
        async with db.read() as s:
            return await store.document_passages(s, bot_id=found.id, ref=document)

    doc, passages = run(go, as_json=as_json)
    items = [{"passage_id": p.id, "ordinal": p.ordinal, "title": p.title, "content": p.content,
              "vectors": p.vector_model is not None} for p in passages]
    if as_json:
        dump_json({"id": doc.id, "title": doc.title, "source": doc.source, "passages": items})
        return
    from rich.markup import escape

    out = console()
    out.print(f"[bold]{escape(doc.title)}[/bold]  [dim]{escape(doc.source)}, {len(items)} passage(s)[/dim]")
    for p in items:
        out.print(f"\n[bold]{p['ordinal'] + 1}. {escape(p['title'])}[/bold]  [dim](passage {p['passage_id']}, {len(p['content'])} characters"
                  f"{'' if p['vectors'] else ', no vectors yet: ndoto kb reindex'})[/dim]")
        out.print(escape(p["content"]), highlight=False)
