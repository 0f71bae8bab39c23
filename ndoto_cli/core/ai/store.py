"""The knowledge base's storage: documents and their passages, and the SQLite FTS5 index beside
them. Re-adding the same source replaces its passages; unchanged content is a no-op."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.ai.ingest import Section, read_document
from ndoto_cli.core.db import statements
from ndoto_cli.core.errors import Invalid, NotFound
from ndoto_cli.core.models import AgentBot, KbDocument, KbPassage
from ndoto_cli.core.services.bots import require_ai


async def require_ai_bot(session: AsyncSession, *, bot_id: int) -> AgentBot:
    """Knowledge bases belong to AI agent bots: a webhook bot's is refused, whoever asks."""
    bot = await session.get(AgentBot, bot_id)
    if bot is None:
        raise NotFound(f"bot {bot_id} not found")
    return require_ai(bot, "kb")


async def add_document(
    session: AsyncSession, *, bot_id: int, path: Path, embeddings: list[list[float]] | None = None,
    sections: list[Section] | None = None, raw: str | None = None,
) -> tuple[KbDocument, bool]:
    """Add or replace a document; returns (document, changed). Unchanged content is a no-op."""
    await require_ai_bot(session, bot_id=bot_id)
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
            await statements.execute(
                session, "INSERT INTO kb_fts (rowid, title, content) VALUES (:id, :title, :content)",
                {"id": passage.id, "title": section.title, "content": section.content},
            )
    return doc, True


async def _has_fts(session: AsyncSession) -> bool:
    return (await session.connection()).dialect.name == "sqlite"


async def _delete_passages(session: AsyncSession, document_id: int) -> None:
    """Their kb_fts rows go with them by a trigger (migration 0007), as on any cascade."""
    await session.execute(KbPassage.__table__.delete().where(KbPassage.document_id == document_id))  # type: ignore[attr-defined]


async def list_documents(session: AsyncSession, *, bot_id: int) -> list[KbDocument]:
    await require_ai_bot(session, bot_id=bot_id)
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


