"""Knowledge-base search, offline, no extra service: on SQLite FTS5 with BM25 and Porter stemming;
on PostgreSQL its own full-text search (a weighted tsvector per passage, English stemming,
``ts_rank``; migration 0008). Both weight a passage's title above its text and OR the question's
content words, so the two rank alike. When passages carry embeddings (an embedding model is configured), :func:`search` fuses the BM25
and vector rankings (reciprocal rank fusion), which finds paraphrased questions that share few
words with their passage."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.db import statements
from ndoto_cli.core.models import KbDocument, KbPassage

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
class Hit:
    passage_id: int
    title: str
    content: str
    score: float
    source: str


def query_words(question: str) -> list[str]:
    """The question's content words, expanded with their paraphrases, each once."""
    words = [w for w in re.findall(r"[\w']+", question.lower()) if w not in STOPWORDS and len(w) > 1]
    words = [w.strip("'") for w in words if w.strip("'")]
    expanded = list(words)
    for word in words:
        expanded.extend(SYNONYMS.get(word, ()))
    return list(dict.fromkeys(expanded))


async def _full_text(session: AsyncSession, *, bot_id: int, question: str, limit: int) -> list[Hit]:
    """The full-text ranking, by the database's own engine (``statements.*.full_text``)."""
    words = query_words(question)
    if not words:
        return []
    rows = await (await statements.raw(session)).full_text(words, bot_id=bot_id, limit=limit)
    return [Hit(*row) for row in rows]


async def search(
    session: AsyncSession, *, bot_id: int, question: str, limit: int = 4, query_embedding: list[float] | None = None
) -> list[Hit]:
    """The best passages for a question: full text, fused with vector similarity when available."""
    bm25 = await _full_text(session, bot_id=bot_id, question=question, limit=max(limit * 3, 10))
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
