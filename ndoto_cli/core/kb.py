"""The knowledge base of AI agent bots: documents split into passages, searched with BM25.

Passages follow the document's structure: each heading starts a section, long sections are cut
at paragraph boundaries, and each passage keeps the chain of headings above it as its title (so
"Returns > Refund timing" is searchable and shown). Search is SQLite FTS5 with BM25 and Porter
stemming: offline, no extra service. When passages carry embeddings (an embedding model is
configured), :func:`search` fuses the BM25 and vector rankings (reciprocal rank fusion), which
finds paraphrased questions that share few words with their passage.
"""

from __future__ import annotations

import hashlib
import html.parser
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core import fastpath
from ndoto_cli.core.errors import Invalid, NotFound
from ndoto_cli.core.models import KbDocument, KbPassage

MAX_PASSAGE = 1200  # characters: long sections are cut at paragraph boundaries
SUFFIXES = {
    ".md": "markdown", ".markdown": "markdown", ".txt": "text", ".text": "text", ".html": "html", ".htm": "html",
    ".pdf": "pdf",
}
STOPWORDS = {
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "do", "does", "did",
    "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me",
    "my", "of", "on", "or", "our", "please", "so", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "to", "us", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will",
    "with", "would", "you", "your", "yours", "hi", "hello", "thanks", "thank",
}


# Customer-service paraphrases BM25 cannot bridge on its own (customers say "broken", help
# centres say "damaged"). Expanding the query with them is cheap and offline; an embedding model
# (hybrid retrieval) does this in general when one is configured.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "broken": ("damaged", "faulty"), "broke": ("damaged",), "faulty": ("damaged",), "damaged": ("broken",),
    "back": ("return", "refund"), "money": ("refund", "payment"), "refund": ("money",),
    "arrive": ("delivery", "delivered"), "arrives": ("delivery",), "get": ("delivery",), "come": ("delivery",),
    "package": ("parcel",), "parcel": ("package",), "ship": ("delivery", "shipping"), "shipping": ("delivery",),
    "deliver": ("delivery", "shipping"), "cost": ("price", "costs"), "price": ("cost", "costs"), "fee": ("cost",),
    "pay": ("payment",), "paying": ("payment",), "cash": ("payment",), "card": ("card", "payment"),
    "password": ("sign",), "login": ("sign", "password"), "log": ("sign",), "address": ("address",),
    "cancel": ("cancel", "return"), "exchange": ("return", "replace"), "wrong": ("wrong", "replace"),
    "track": ("tracking",), "where": ("tracking",), "human": ("agent",), "person": ("agent",),
}


@dataclass
class Section:
    title: str
    content: str


class _HtmlText(html.parser.HTMLParser):
    """HTML to Markdown-ish text: headings become '#' lines, blocks become paragraphs."""

    BLOCKS = frozenset({"p", "div", "li", "br", "tr", "section", "article", "ul", "ol", "table"})

    def __init__(self) -> None:
        super().__init__()
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "title", "head"):
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.out.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self.BLOCKS:
            self.out.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "title", "head"):
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self.out.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(" ".join(data.split()) if data.strip() else "")


def to_markdown(text: str, kind: str) -> str:
    if kind == "html":
        parser = _HtmlText()
        parser.feed(text)
        return "".join(parser.out)
    return text


def split(text: str, *, default_title: str) -> list[Section]:
    """Sections by headings (Markdown '#' lines), then paragraphs up to ``MAX_PASSAGE`` chars."""
    sections: list[Section] = []
    trail: list[str] = []
    body: list[str] = []

    def flush() -> None:
        content = "\n".join(body).strip()
        body.clear()
        if not content:
            return
        title = " > ".join(trail) or default_title
        chunk: list[str] = []
        for para in re.split(r"\n\s*\n", content):
            para = para.strip()
            if not para:
                continue
            if chunk and len("\n\n".join(chunk)) + len(para) > MAX_PASSAGE:
                sections.append(Section(title, "\n\n".join(chunk)))
                chunk = []
            chunk.append(para)
        if chunk:
            sections.append(Section(title, "\n\n".join(chunk)))

    for line in text.splitlines():
        heading = re.match(r"^(#{1,6})\s+(.*\S)\s*$", line)
        if heading:
            flush()
            level = len(heading.group(1))
            trail[:] = trail[: level - 1] + [heading.group(2).strip("# ")]
        else:
            body.append(line)
    flush()
    return sections


def _pdf_text(path: Path) -> str:
    """A PDF's text, one '#' section per page (PDFs carry no reliable heading structure)."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, OSError, ValueError) as exc:
        raise Invalid(f"{path.name}: cannot read this PDF ({exc})", field="path") from exc
    stem = path.stem.replace("-", " ").replace("_", " ").title()
    pages = [page.replace("\x00", "") for page in pages]
    return "\n\n".join(f"# {stem}\n\n## Page {n}\n\n{text.strip()}" for n, text in enumerate(pages, start=1) if text.strip())


def read_document(path: Path) -> tuple[str, list[Section]]:
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise Invalid(f"{path.name}: unsupported file type (use Markdown, plain text, HTML or PDF)", field="path")
    if kind == "pdf":
        text = _pdf_text(path)
        return text, split(text, default_title=path.stem)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise Invalid(f"cannot read {path}: {exc.strerror}", field="path") from exc
    except UnicodeDecodeError as exc:
        raise Invalid(f"{path.name} is not UTF-8 text", field="path") from exc
    raw = raw.replace("\x00", "")  # NUL cannot be stored by PostgreSQL and means nothing in a document
    text = to_markdown(raw, kind)
    first = re.search(r"^#\s+(.*\S)", text, re.MULTILINE)
    title = first.group(1) if first else path.stem.replace("-", " ").replace("_", " ").title()
    return raw, split(text, default_title=title)


async def add_document(
    session: AsyncSession, *, bot_id: int, path: Path, embeddings: list[list[float]] | None = None,
    sections: list[Section] | None = None, raw: str | None = None,
) -> tuple[KbDocument, bool]:
    """Add or replace a document; returns (document, changed). Unchanged content is a no-op."""
    if raw is None or sections is None:
        raw, sections = read_document(path)
    digest = hashlib.sha256(raw.encode("utf-8")).hexdigest()
    source = str(path.resolve())
    existing = (
        await session.execute(select(KbDocument).where(KbDocument.agent_bot_id == bot_id, KbDocument.source == source))
    ).scalar_one_or_none()
    if existing is not None and existing.sha256 == digest and embeddings is None:
        return existing, False
    if existing is not None:
        await _delete_passages(session, existing.id)  # type: ignore[arg-type]
        doc = existing
        doc.sha256 = digest
    else:
        doc = KbDocument(agent_bot_id=bot_id, source=source, title="", sha256=digest)
        session.add(doc)
    doc.title = sections[0].title.split(" > ")[0] if sections else path.stem
    doc.passages = len(sections)
    await session.flush()
    fts = await _has_fts(session)
    for i, section in enumerate(sections):
        passage = KbPassage(
            document_id=doc.id, agent_bot_id=bot_id, ordinal=i, title=section.title, content=section.content,  # type: ignore[arg-type]
            embedding=embeddings[i] if embeddings else None,
        )
        session.add(passage)
        await session.flush()
        if fts:
            await fastpath.execute(
                session, "INSERT INTO kb_fts (rowid, title, content) VALUES (:id, :title, :content)",
                {"id": passage.id, "title": section.title, "content": section.content},
            )
    return doc, True


async def _has_fts(session: AsyncSession) -> bool:
    return (await session.connection()).dialect.name == "sqlite"


async def _delete_passages(session: AsyncSession, document_id: int) -> None:
    ids = [int(i) for i in (await session.execute(select(KbPassage.id).where(KbPassage.document_id == document_id))).scalars()]
    if ids and await _has_fts(session):
        await fastpath.execute(session, "DELETE FROM kb_fts WHERE rowid = :id", [{"id": i} for i in ids])
    await session.execute(KbPassage.__table__.delete().where(KbPassage.document_id == document_id))  # type: ignore[attr-defined]


async def list_documents(session: AsyncSession, *, bot_id: int) -> list[KbDocument]:
    return list((await session.execute(select(KbDocument).where(KbDocument.agent_bot_id == bot_id).order_by(KbDocument.id))).scalars())


async def remove_document(session: AsyncSession, *, bot_id: int, ref: str) -> KbDocument:
    """Remove by id, file name or path."""
    docs = await list_documents(session, bot_id=bot_id)
    matches = [d for d in docs if str(d.id) == ref or d.source == ref or Path(d.source).name == ref or d.source == str(Path(ref).resolve())]
    if not matches:
        raise NotFound(f"no document {ref!r} in this bot's knowledge base")
    if len(matches) > 1:
        raise Invalid(f"{ref!r} matches several documents ({', '.join(str(d.id) for d in matches)}); use an id")
    doc = matches[0]
    await _delete_passages(session, doc.id)  # type: ignore[arg-type]
    await session.delete(doc)
    await session.flush()
    return doc


@dataclass
class Hit:
    passage_id: int
    title: str
    content: str
    score: float
    source: str


def match_query(question: str) -> str | None:
    """An FTS5 query: the question's content words, OR-ed (BM25 ranks passages sharing more)."""
    words = [w for w in re.findall(r"[\w']+", question.lower()) if w not in STOPWORDS and len(w) > 1]
    words = [w.strip("'") for w in words if w.strip("'")]
    if not words:
        return None
    expanded = list(words)
    for word in words:
        expanded.extend(SYNONYMS.get(word, ()))
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(expanded))


async def search(
    session: AsyncSession, *, bot_id: int, question: str, limit: int = 4, query_embedding: list[float] | None = None
) -> list[Hit]:
    """The best passages for a question: BM25, fused with vector similarity when available."""
    bm25: list[Hit] = []
    query = match_query(question)
    raw = await fastpath.raw_sqlite(session)
    if query and raw is not None:
        rows = raw.execute(
            "SELECT p.id, p.title, p.content, bm25(kb_fts, 2.0, 1.0) AS score, d.source FROM kb_fts "
            "JOIN kb_passages p ON p.id = kb_fts.rowid JOIN kb_documents d ON d.id = p.document_id "
            "WHERE kb_fts MATCH ? AND p.agent_bot_id = ? ORDER BY score LIMIT ?",
            (query, bot_id, max(limit * 3, 10)),
        ).fetchall()
        bm25 = [Hit(r[0], r[1], r[2], -float(r[3]), r[4]) for r in rows]
    if query_embedding is None:
        return bm25[:limit]
    rows = (
        await session.execute(
            select(KbPassage, KbDocument.source).join(KbDocument, KbDocument.id == KbPassage.document_id)
            .where(KbPassage.agent_bot_id == bot_id, KbPassage.embedding.is_not(None))  # type: ignore[union-attr]
        )
    ).all()
    vector = sorted(
        (Hit(p.id, p.title, p.content, _cosine(query_embedding, p.embedding), source) for p, source in rows),  # type: ignore[arg-type]
        key=lambda h: h.score, reverse=True,
    )[: max(limit * 3, 10)]
    return fuse([bm25, vector], limit=limit)


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def fuse(rankings: list[list[Hit]], *, limit: int, k: int = 60) -> list[Hit]:
    """Reciprocal rank fusion: robust to the two rankings' incomparable score scales."""
    scores: dict[int, float] = {}
    hits: dict[int, Hit] = {}
    for ranking in rankings:
        for rank, hit in enumerate(ranking):
            scores[hit.passage_id] = scores.get(hit.passage_id, 0.0) + 1.0 / (k + rank + 1)
            hits.setdefault(hit.passage_id, hit)
    ordered = sorted(scores, key=lambda pid: scores[pid], reverse=True)[:limit]
    return [Hit(pid, hits[pid].title, hits[pid].content, round(scores[pid], 4), hits[pid].source) for pid in ordered]
