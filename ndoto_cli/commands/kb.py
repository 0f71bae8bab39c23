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
    YesOpt,
    confirm,
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
    from ndoto_cli.core.ai.ingest import KINDS, SUFFIXES

    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES))
        elif path.is_file():
            out.append(path)
        else:
            fail(f"no such file or directory: {path}")
    if paths and not out:
        fail(f"no {KINDS} files found in the given paths")
    return out


def _is_url(text: str) -> bool:
    """A web address (any scheme: ftp:// is refused as one, not looked for as a file)."""
    return "://" in text


def _outcome_json(o: Any) -> dict[str, Any]:
    return {**o.as_json(), "changed": o.outcome in ("added", "updated", "removed")}


def _summary(name: str, report: Any) -> str:
    """One line of what a run did: "Helper: 3 added, 1 updated, 12 unchanged, 2 removed; 40 passages"."""
    counts = [f"{report.count(k)} {k}" for k in ("added", "updated", "unchanged", "removed", "skipped", "failed") if report.count(k)]
    passages = sum(o.passages for o in report.outcomes if o.outcome in ("added", "updated", "unchanged"))
    return f"{name}: {', '.join(counts) or 'nothing to do'}; {passages} passages in all."


def _print_report(name: str, report: Any, *, verb: str = "") -> None:
    from rich.markup import escape

    out = console()
    for o in report.outcomes:
        if o.outcome in ("removed", "failed", "skipped") or verb:
            out.print(f"  {verb}{o.outcome:<9} {escape(o.source)}" + (f"  [dim]({escape(o.reason)})[/dim]" if o.reason else ""), highlight=False)
    for note in report.notes:
        out.print(f"  [dim]{escape(note)}[/dim]", highlight=False)
    out.print(_summary(name, report), highlight=False)


@app.command("add")
def add(
    bot: BotArg,
    sources: Annotated[list[str], typer.Argument(
        help="Files or folders (Markdown, plain text, HTML, PDF, DOCX), or http(s) URLs: a page, a site's start page (--crawl) or a sitemap.",
        metavar="PATH_OR_URL...")],
    crawl: Annotated[bool, typer.Option("--crawl", help="Follow links from each URL: its host, under its folder; robots.txt obeyed.")] = False,
    max_pages: Annotated[int, typer.Option("--max-pages", help="A crawl's (or sitemap's) page limit.", min=1, max=10_000)] = 100,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add documents, web pages or sites; re-adding a changed one replaces its passages, an unchanged one is skipped.

    Examples: ndoto kb add Helper examples/shop-help/
              ndoto kb add Helper https://shop.example/help/ --crawl --max-pages 200
              ndoto kb add Helper https://shop.example/sitemap.xml
    """
    urls = [x for x in sources if _is_url(x)]
    files = _files([Path(x) for x in sources if not _is_url(x)])
    if crawl and not urls:
        fail("--crawl follows links from a URL: give one (http:// or https://)")

    async def go(db: Any) -> Any:
        from ndoto_cli.dispatch.ai import sources as web

        found = await ai_bot(db, bot, account, system)
        with _progress(as_json, "Adding") as bar:
            progress = web.Progress(bar.show)
            progress.add(len(files))
            report = web.Report()
            async with web.Sources(db, bot_id=found.id, progress=progress) as run:
                for path in files:
                    await run.file(path)
            report.outcomes += run.report.outcomes
            for url in urls:
                got = await web.add_url(db, bot_id=found.id, url=url, crawl=crawl, max_pages=max_pages, progress=progress)
                report.outcomes += got.outcomes
                report.notes += got.notes
        return found, report

    found, report = run(go, as_json=as_json)
    failed = [o for o in report.outcomes if o.outcome == "failed" and not _is_url(o.source)]
    if as_json:
        dump_json([_outcome_json(o) for o in report.outcomes])
    elif urls:
        _print_report(found.name, report)
    else:
        for o in failed:
            console().print(f"  failed    {o.source}  ({o.reason})", highlight=False, markup=False)
        changed = report.count("added") + report.count("updated")
        console().print(
            f"{found.name}: {changed} document(s) added or updated, {report.count('unchanged')} unchanged, "
            f"{sum(o.passages for o in report.outcomes)} passages in all.", highlight=False,
        )
    if failed:
        raise typer.Exit(1)


@app.command("sync")
def sync(
    bot: BotArg,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Fetch and compare, change nothing: what a sync would do.")] = False,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Bring the knowledge base up to date with its sources: changed files and pages are read
    again, new pages of crawled sites added, and files or pages that are gone removed. Web pages
    are asked for only if changed (ETag, Last-Modified); FAQ entries stay as they are.

    Example: ndoto kb sync Helper --dry-run
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.dispatch.ai import sources as web

        found = await ai_bot(db, bot, account, system)
        with _progress(as_json, "Syncing") as bar:
            report = await web.sync(db, bot_id=found.id, dry_run=dry_run, progress=web.Progress(bar.show))
        return found, report

    found, report = run(go, as_json=as_json)
    if as_json:
        dump_json({"bot": found.name, "dry_run": dry_run, "requests": report.requests, "notes": report.notes,
                   "documents": [_outcome_json(o) for o in report.outcomes]})
    else:
        _print_report(found.name + (" (dry run: nothing changed)" if dry_run else ""), report)
    if report.count("failed"):
        raise typer.Exit(1)


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
    yes: YesOpt = False,
    system: SystemOpt = False,
    account: AccountOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a document and its passages; a crawled site's start URL removes the site and every
    page it found (after asking), so that kb sync does not bring them back.

    Example: ndoto kb remove Helper shipping.md
    """

    async def go(db: Any) -> Any:
        from ndoto_cli.core.ai import ingest, store

        found = await ai_bot(db, bot, account, system)
        site = None
        if _is_url(document):
            async with db.read() as s:
                site = await store.find_site(s, bot_id=found.id, start_url=ingest.normal_url(document))
                pages = len(await store.site_documents(s, site_id=site.id)) if site else 0  # type: ignore[arg-type]
        if site is None:
            return await db.write(lambda s: store.remove_document(s, bot_id=found.id, ref=document)), None
        confirm(f"Remove the crawl of {site.start_url} and its {pages} page(s) from {found.name}'s knowledge base?", yes=yes, as_json=as_json)
        return site, await db.write(lambda s: store.remove_site(s, bot_id=found.id, site_id=site.id))  # type: ignore[arg-type]

    removed, pages = run(go, as_json=as_json)
    if pages is not None:
        if as_json:
            dump_json({"site": removed.start_url, "removed": True, "pages": pages})
        else:
            console().print(f"Removed the crawl of {removed.start_url} and its {pages} page(s).", highlight=False)
    elif as_json:
        dump_json({"id": removed.id, "removed": True})
    else:
        console().print(f"Removed {removed.title} ({removed.source}).", highlight=False)


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
        with _progress(as_json, "Importing", len(entries)) as bar:
            for question, answer, sections in entries:
                vectors = store.section_vectors(sections)
                doc, changed = await db.write(
                    lambda s, q=question, a=answer, v=vectors: store.add_faq(s, bot_id=found.id, question=q, answer=a, vectors=v))
                results.append({"id": doc.id, "title": doc.title, "passages": doc.passages, "changed": changed})
                bar.advance()
        return found, results

    found, results = run(go, as_json=as_json)
    if as_json:
        dump_json(results)
        return
    changed = sum(r["changed"] for r in results)
    console().print(f"{found.name}: {changed} FAQ entr{'y' if changed == 1 else 'ies'} added or updated, {len(results) - changed} unchanged.")


class _Bar:
    """A progress bar's handle: ``advance(n)`` for a known total, ``show(done, total, label)`` for
    one that grows (a crawl finds pages as it goes). Does nothing when there is no bar."""

    def __init__(self, progress: Any = None, task: Any = None, label: str = "") -> None:
        self._progress, self._task, self._label = progress, task, label

    def advance(self, n: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def show(self, done: int, total: int, source: str) -> None:
        if self._progress is not None:
            shown = source if len(source) <= 50 else "…" + source[-49:]
            self._progress.update(self._task, completed=done, total=total or None, description=f"{self._label} {shown}")


@contextlib.contextmanager
def _progress(quiet: bool, label: str, total: int | None = None) -> Iterator[_Bar]:
    """A progress bar on the terminal; none for --json or when the output is not a terminal (a
    log gets the summary only)."""
    if quiet or not console().is_terminal:
        yield _Bar()
        return
    from rich.progress import Progress

    progress = Progress(console=console(), transient=True)
    task = progress.add_task(label, total=total)
    with progress:
        yield _Bar(progress, task, label)


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
        with _progress(as_json, "Embedding", total) as bar:
            done = await store.reindex(db, bot_id=found.id, on_progress=bar.advance)
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


def _learning_commands() -> None:
    """Learning from humans (``kb_suggest``): drafts from resolved handoffs, and their review."""
    from ndoto_cli.commands import kb_suggest

    app.command("suggest")(kb_suggest.suggest)
    app.add_typer(kb_suggest.app, name="suggestions")


_learning_commands()
