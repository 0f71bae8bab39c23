"""Where a knowledge base's documents come from (files, web pages, crawled sites), and
``ndoto kb sync``, which brings them all up to date.

Reading bytes into passages is core's (``core.ai.ingest``), and so is storing them
(``core.ai.store``); fetching, behind the private-address guard, is ``dispatch.ai.fetch``'s.
A sitemap (or sitemap index) is told by its content and lists a site's pages. A crawl stays on the start page's host and
scheme, under its folder (``https://shop.test/help/`` stays in ``/help/``), fetches at most its
page limit, and obeys the site's robots.txt (RFC 9309: an unreachable robots.txt means "do not
crawl", a missing one means "crawl anything"; ``Crawl-delay`` is honoured, up to 30 s). A page the
admin names alone is fetched as a browser would, without robots.txt.

``kb sync`` sends each page's validators back (``If-None-Match``, ``If-Modified-Since``): a page
that answers 304 costs no download and no re-indexing, and still leads the crawl on through the
links stored with it. A page that answers 404 or 410, a file that is gone, or a page a complete
crawl no longer reaches is removed; a page that fails (network, 5xx) is kept as it was, and a crawl
cut short (its page limit, a failure) removes nothing it did not reach.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from ndoto_cli.core.ai import ingest, store
from ndoto_cli.core.ai.ingest import Page, Section
from ndoto_cli.core.errors import Invalid, NdotoError
from ndoto_cli.core.models import KbDocument, KbSite
from ndoto_cli.dispatch.ai.fetch import Fetched, Fetcher, Robots, check_start, in_scope, is_page, sitemap_of

CONCURRENCY = 4  # pages fetched at once from one site (1 when it asks for a Crawl-delay)
MAX_SITEMAPS = 20  # nested sitemaps read from one sitemap index
DEFAULT_PAGES = 100
MAX_PAGES = 10_000
MAX_LINKS = 2_000  # links kept per page (for a 304 to lead the crawl on)
GONE = (404, 410)


@dataclass
class Outcome:
    """What happened to one source: added, updated, unchanged, removed, failed or skipped."""

    source: str
    outcome: str
    reason: str | None = None
    title: str | None = None
    passages: int = 0
    id: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "source": self.source, "outcome": self.outcome, "title": self.title,
                "passages": self.passages, "reason": self.reason}


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # a crawl cut short, a robots.txt that refused
    requests: int = 0

    def count(self, outcome: str) -> int:
        return sum(o.outcome == outcome for o in self.outcomes)


class Progress:
    """How far a run is, for a progress bar: ``total`` grows as a crawl finds pages."""

    def __init__(self, on_change: Callable[[int, int, str], None] | None = None) -> None:
        self.done = 0
        self.total = 0
        self._on_change = on_change

    def add(self, n: int = 1) -> None:
        self.total += n
        self._changed("")

    def advance(self, label: str) -> None:
        self.done += 1
        self._changed(label)

    def _changed(self, label: str) -> None:
        if self._on_change is not None:
            self._on_change(self.done, max(self.total, self.done), label)


class Sources:
    """One run of adding or syncing a bot's knowledge base: a fetcher, the bot's documents as
    they were, and the report of what happened to each."""

    def __init__(self, db: Any, *, bot_id: int, dry_run: bool = False, progress: Progress | None = None) -> None:
        self.db = db
        self.settings = db.settings
        self.bot_id = bot_id
        self.dry_run = dry_run
        self.progress = progress or Progress()
        self.report = Report()
        self.known: dict[str, KbDocument] = {}
        self.fetcher = Fetcher(allow_private=self.settings.allow_private_addresses, allowlist=self.settings.private_allowlist,
                              max_connections=CONCURRENCY * 2)

    async def __aenter__(self) -> Self:
        from ndoto_cli.core.ai import vectors

        vectors.available()  # load the offline model once, here, before pages are embedded in threads
        async with self.db.read() as s:
            self.known = {d.source: d for d in await store.list_documents(s, bot_id=self.bot_id)}
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.report.requests = self.fetcher.requests
        await self.fetcher.__aexit__()

    # --- storing ---------------------------------------------------------------------------

    async def _prepare(self, sections: list[Section]) -> tuple[list[list[float]] | None, list[Any]]:
        """(litellm embeddings when configured, offline vectors) of passages, before the write."""
        embeddings = None
        if self.settings.embedding_model and sections:
            from ndoto_cli.dispatch.ai.llm import embed

            embeddings = await embed(model=self.settings.embedding_model, api_base=self.settings.ai_api_base,
                                     texts=[f"{s.title}\n{s.content}" for s in sections])
        vectors = await asyncio.to_thread(store.section_vectors, sections)
        return embeddings, vectors

    async def store(self, source: str, raw: str, sections: list[Section], *, path: Path | None = None, title: str | None = None,
                    got: Fetched | None = None, site_id: int | None = None, links: list[str] | None = None) -> Outcome:
        """Add or replace one document; unchanged content is not embedded again."""
        before = self.known.get(source)
        if not sections:
            if before is not None:
                return await self.remove([before], reason="no text left to index (empty, or marked noindex)")
            return Outcome(source, "skipped", reason="no text to index (empty, or marked noindex)")
        # Unchanged text is not embedded again; but with an embedding model configured, passages
        # added before it was set have none of its embeddings, and re-adding fills them in.
        same = before is not None and before.sha256 == store.digest(raw)
        if same and self.settings.embedding_model:
            async with self.db.read() as s:
                same = not await store.lacks_embeddings(s, document_id=before.id)  # type: ignore[union-attr, arg-type]
        if self.dry_run:
            return Outcome(source, "unchanged" if same else ("updated" if before else "added"), title=title or (before.title if before else None),
                           passages=len(sections), id=before.id if before else None)
        embeddings, vectors = (None, [None] * len(sections)) if same else await self._prepare(sections)
        doc, changed = await self.db.write(lambda s: store.add_document(
            s, bot_id=self.bot_id, path=path, raw=raw, sections=sections, source=source, title=title, embeddings=embeddings,
            vectors=vectors, etag=got.etag if got else None, last_modified=got.last_modified if got else None,
            site_id=site_id, links=links,
        ))
        self.known[source] = doc
        return Outcome(source, "unchanged" if not changed else ("updated" if before else "added"), title=doc.title,
                       passages=doc.passages, id=doc.id)

    async def remove(self, docs: list[KbDocument], *, reason: str) -> Outcome:
        if not self.dry_run:
            await self.db.write(lambda s: store.drop_documents(s, bot_id=self.bot_id, documents=docs))
        for doc in docs:
            self.known.pop(doc.source, None)
        return Outcome(docs[0].source, "removed", reason=reason, title=docs[0].title, id=docs[0].id)

    def record(self, outcome: Outcome) -> Outcome:
        self.report.outcomes.append(outcome)
        self.progress.advance(outcome.source)
        return outcome

    # --- files -----------------------------------------------------------------------------

    async def file(self, path: Path) -> Outcome:
        source = str(path.resolve())
        try:
            raw, sections = await asyncio.to_thread(ingest.read_document, path)
        except Invalid as exc:
            return self.record(Outcome(source, "failed", reason=exc.message))
        return self.record(await self.store(source, raw, sections, path=path))

    async def sync_file(self, doc: KbDocument) -> Outcome:
        path = Path(doc.source)
        if not path.is_file():
            return self.record(await self.remove([doc], reason="the file is gone"))
        return await self.file(path)

    # --- web pages -------------------------------------------------------------------------

    async def page(self, url: str, *, site: KbSite | None = None, got: Fetched | None = None) -> tuple[Outcome, list[str]]:
        """Fetch one page (conditionally when it is known; ``got`` when it was fetched already)
        and store it: (outcome, links on it)."""
        before = self.known.get(url)
        if got is None:
            got = await self.fetcher.get(url, etag=before.etag if before else None,
                                         last_modified=before.last_modified if before else None)
        if got.status == 304 and before is not None:
            return Outcome(url, "unchanged", title=before.title, passages=before.passages, id=before.id), list(before.links or [])
        if got.status in GONE:
            if before is not None:
                return await self.remove([before], reason=f"HTTP {got.status}"), []
            return Outcome(url, "skipped", reason=f"HTTP {got.status}"), []
        if not got.ok:
            return Outcome(url, "failed", reason=got.error or f"HTTP {got.status}"), []
        if site is not None and not in_scope(got.final_url, site.start_url):
            return Outcome(url, "skipped", reason=f"redirects to {got.final_url}, outside the crawl"), []
        kind = ingest.media_kind(got.content_type, got.final_url)
        if kind is None:
            return Outcome(url, "skipped", reason=f"not a document ({got.content_type or 'no content type'})"), []
        try:
            page: Page = await asyncio.to_thread(ingest.read_page, got.final_url, got.data, kind, charset=got.charset)
        except Invalid as exc:
            return Outcome(url, "failed", reason=exc.message), []
        links = [] if page.nofollow else page.links
        if site is not None:
            links = [link for link in links if in_scope(link, site.start_url)][:MAX_LINKS]
        outcome = await self.store(url, page.raw, page.sections, title=page.title, got=got,
                                   site_id=site.id if site else None, links=links if site else None)
        return outcome, links

    async def single(self, url: str, *, got: Fetched | None = None) -> Outcome:
        outcome, _ = await self.page(url, got=got)
        return self.record(outcome)

    async def site(self, site: KbSite, *, first: Fetched | None = None) -> None:
        """Crawl a site from its start (a page, or a sitemap: told by its content; ``first`` when
        it was fetched already): store what it reaches, then remove the site's pages it no longer
        reaches when the crawl was complete."""
        start = site.start_url
        robots = Robots(self.fetcher)
        _, refused = await robots.rules(start)
        if refused or not await robots.allows(start):
            self.report.notes.append(refused or f"robots.txt of {urlsplit(start).netloc} asks crawlers not to fetch {start}")
            self.record(Outcome(start, "failed", reason=refused or "refused by robots.txt"))
            return
        delay = await robots.delay(start)
        width = 1 if delay else CONCURRENCY
        before = {d.source: d for d in self.known.values() if d.site_id == site.id}
        reached: set[str] = set()
        complete = True
        queue: deque[str] = deque()
        seen: set[str] = set()

        # A start that is a sitemap lists the pages; a start that is a page leads to them (its
        # response, asked for conditionally when it is known, is the crawl's first page).
        if first is None:
            known = self.known.get(start)
            first = await self.fetcher.get(start, etag=known.etag if known else None,
                                           last_modified=known.last_modified if known else None)
        sitemap = sitemap_of(first, self.fetcher.max_bytes) if first.ok else None
        prefetched = {start: first}
        if sitemap is not None:
            pages = await self._sitemap_pages(sitemap, start)
            allowed = [u for u in pages if await robots.allows(u)]
            if len(allowed) > site.max_pages:
                complete = False
                self.report.notes.append(f"{start} lists {len(allowed)} pages; the first {site.max_pages} were read (--max-pages)")
            queue.extend(allowed[: site.max_pages])
            seen.update(queue)
            follow = False
        else:
            queue.append(start)
            seen.add(start)
            follow = True
        self.progress.add(len(queue))
        fetched = 0
        while queue:
            if fetched >= site.max_pages:
                complete = False
                self.report.notes.append(f"the crawl of {start} stopped at its limit of {site.max_pages} pages (--max-pages)")
                break
            batch = [queue.popleft() for _ in range(min(width, len(queue), site.max_pages - fetched))]
            results = await asyncio.gather(*(self.page(url, site=site, got=prefetched.pop(url, None)) for url in batch))
            fetched += len(batch)
            for url, (outcome, links) in zip(batch, results, strict=True):
                self.record(outcome)
                if outcome.outcome == "failed":
                    complete = False
                elif outcome.outcome != "removed":
                    reached.add(url)
                for link in links if follow else []:
                    if link not in seen and is_page(link) and await robots.allows(link):
                        seen.add(link)
                        queue.append(link)
                        if len(seen) <= site.max_pages:
                            self.progress.add()
            if delay and queue:
                await asyncio.sleep(delay)
        unreached = [d for src, d in before.items() if src not in reached and src in self.known]
        if unreached and complete:
            for doc in unreached:
                self.record(await self.remove([doc], reason=f"no longer reached from {start}"))
        elif unreached:
            self.report.notes.append(f"{len(unreached)} page(s) of {start} not reached this time were kept (the crawl was cut short)")
        if not self.dry_run:
            await self.db.write(lambda s: store.mark_synced(s, site_id=site.id))  # type: ignore[arg-type]

    async def _sitemap_pages(self, sitemap: tuple[list[str], list[str]], start: str) -> list[str]:
        """The pages a sitemap (or a sitemap index, a level deep per nested file) lists on the
        start's host and scheme, in order, without repeats."""
        host = urlsplit(start)[:2]
        pages, nested = sitemap
        read = 0
        todo = deque(u for u in nested if urlsplit(u)[:2] == host)
        while todo and read < MAX_SITEMAPS:
            got = await self.fetcher.get(todo.popleft())
            read += 1
            inner = sitemap_of(got, self.fetcher.max_bytes) if got.ok else None
            if inner is None:
                self.report.notes.append(f"{got.url}: not a readable sitemap ({got.error or f'HTTP {got.status}'})")
                continue
            pages = pages + inner[0]
            todo.extend(u for u in inner[1] if urlsplit(u)[:2] == host)
        return list(dict.fromkeys(u for u in pages if urlsplit(u)[:2] == host and is_page(u)))


async def add_url(db: Any, *, bot_id: int, url: str, crawl: bool, max_pages: int = DEFAULT_PAGES,
                  progress: Progress | None = None) -> Report:
    """``ndoto kb add BOT URL``: one page; or, with ``crawl`` or when the URL is a sitemap, a site.
    A start that cannot be read at all is an error (nothing stored)."""
    url = check_start(url, db.settings)
    if not 1 <= max_pages <= MAX_PAGES:
        raise Invalid(f"--max-pages must be between 1 and {MAX_PAGES}", field="max_pages")
    async with Sources(db, bot_id=bot_id, progress=progress) as run:
        probe = None
        if not crawl:
            probe = await run.fetcher.get(url)
            if not probe.ok:
                raise NdotoError(f"cannot fetch {url}: {probe.error or f'HTTP {probe.status}'}")
            crawl = sitemap_of(probe, run.fetcher.max_bytes) is not None
        if not crawl:
            run.progress.add()
            outcome = await run.single(url, got=probe)
            if outcome.outcome in ("failed", "skipped"):
                raise NdotoError(f"cannot add {url}: {outcome.reason}")
            return run.report
        async with db.read() as s:
            new_site = await store.find_site(s, bot_id=bot_id, start_url=url) is None
        site = await db.write(lambda s: store.ensure_site(s, bot_id=bot_id, start_url=url, max_pages=max_pages))
        await run.site(site, first=probe)
        stored = [o for o in run.report.outcomes if o.outcome in ("added", "updated", "unchanged")]
        if not stored and new_site:
            await db.write(lambda s: store.remove_site(s, bot_id=bot_id, site_id=site.id))  # type: ignore[arg-type]
            why = next((o.reason for o in run.report.outcomes if o.reason), None) or "; ".join(run.report.notes) or "no page found"
            raise NdotoError(f"cannot add {url}: {why}")
    return run.report


async def sync(db: Any, *, bot_id: int, dry_run: bool = False, progress: Progress | None = None) -> Report:
    """``ndoto kb sync BOT``: every file, page and site of the bot's knowledge base, brought up
    to date (FAQ entries are their own source and stay as they are)."""
    async with Sources(db, bot_id=bot_id, dry_run=dry_run, progress=progress) as run:
        async with db.read() as s:
            sites = await store.list_sites(s, bot_id=bot_id)
        docs = list(run.known.values())
        files = [d for d in docs if not d.source.startswith((store.FAQ_SOURCE, *store.WEB))]
        pages = [d for d in docs if d.source.startswith(store.WEB) and d.site_id is None]
        run.progress.add(len(files) + len(pages))
        for doc in files:
            await run.sync_file(doc)
        for batch in (pages[i:i + CONCURRENCY] for i in range(0, len(pages), CONCURRENCY)):
            await asyncio.gather(*(run.single(d.source) for d in batch))
        for site in sites:
            await run.site(site)
    return run.report
