"""Knowledge-base search, offline, no extra service. Two views of each passage, fused:

* full text, by the database's own engine: SQLite FTS5 with BM25 and Porter stemming, or
  PostgreSQL's weighted tsvector with English stemming and ``ts_rank`` (migration 0008). Both
  weight a passage's title above its text and OR the question's content words, so they rank alike;
* meaning, by the offline vectors shipped with Ndoto (``core.ai.vectors``): the question's
  similarity to each passage's title and to its text, which finds reworded questions that share
  few words with their passage ("mail" for "email").

The rankings are fused by reciprocal rank fusion (and a fourth joins them when an embedding
model is configured through litellm). What keeps a search interactive at 100,000 passages: the
full-text query takes the question's rarest words within a budget of postings,
the vectors are shortlisted by their signs past ``EXACT_UP_TO`` passages, and the vector work runs
in a thread while the database runs the full-text query (``benchmarks/kb_scale.py``).
Measured on the public FAQ set (``benchmarks/kb_quality.py``): full text alone hit@1 0.78,
fused 0.91.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ndoto_cli.core.db import statements
from ndoto_cli.core.models import KbPassage

STOPWORDS = {
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "could", "do", "does", "did",
    "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me",
    "my", "of", "on", "or", "our", "please", "so", "that", "the", "their", "them", "then", "there", "these",
    "they", "this", "to", "us", "was", "we", "were", "what", "when", "where", "which", "who", "why", "will",
    "with", "would", "you", "your", "yours", "hi", "hello", "thanks", "thank",
}


@dataclass
class Hit:
    passage_id: int
    title: str
    content: str
    score: float
    source: str


def query_words(question: str) -> list[str]:
    """The question's content words, each once. (A hand-written list of shop synonyms used to
    widen them; the offline vectors bridge rewording in general, and on the public FAQ set the
    list changed nothing: it is gone.)"""
    words = [w for w in re.findall(r"[\w']+", question.lower()) if w not in STOPWORDS and len(w) > 1]
    words = [w.strip("'") for w in words if w.strip("'")]
    return list(dict.fromkeys(words))


# The full-text query reads each of its words' lists of passages, so its cost is the sum of their
# lengths. A common word costs most and weighs least (BM25's IDF): the question's words are taken
# rarest first while their passages add up to at most a budget (the rarest word always), which
# each dialect sets (``statements.*.postings_budget``: 10,000 on SQLite, 3,000 on PostgreSQL,
# whose rows cost more). Below about 4,000 passages every word fits on SQLite, so the results
# are those of the whole question; at 100,000 passages this cut SQLite's full-text p95 from
# 110 ms to 25 ms.


async def _full_text(session: AsyncSession, *, bot_id: int, question: str, limit: int, counts: dict[str, int]) -> list[Hit]:
    """The full-text ranking, by the database's own engine (``statements.*.full_text``)."""
    words = query_words(question)
    if not words:
        return []
    raw = await statements.raw(session)
    words = await _affordable(raw, words, counts, budget=raw.postings_budget)
    if not words:
        return []
    rows = await raw.full_text(words, bot_id=bot_id, limit=limit)
    return [Hit(*row) for row in rows]


async def _affordable(raw: Any, words: list[str], counts: dict[str, int], budget: int | None = None) -> list[str]:
    """The words a search can afford (``budget`` postings, SQLite's by default), without those no passage holds. ``counts``
    caches how many passages hold each word, per change of the bot's knowledge base (other bots'
    passages count too, and may be a change behind: it is an estimate of cost, not a score)."""
    budget = budget or statements.SQLite.postings_budget
    if len(counts) > 50_000:
        counts.clear()
    missing = [w for w in words if w not in counts]
    if missing:  # counted up to one past the budget: a word over it is kept only when every word is (the first of them)
        counts.update(zip(missing, await raw.passages_with(missing, cap=budget + 1), strict=True))
    kept: list[str] = []
    total = 0
    for word in sorted(words, key=lambda w: counts[w]):
        if counts[word] == 0:
            continue
        if kept and total + counts[word] > budget:
            break
        kept.append(word)
        total += counts[word]
    return kept


CANDIDATES = 50  # full-text hits fused with the vector rankings (the rest are not in the full-text ranking)
# A passage that shares no word with the question is a hit only if it is this similar to it (the
# better of title and text): on the public FAQ set every question's right answer was at least 0.48
# similar, while unrelated pairs ("can I return an item?" / "We ship in two days.") score 0.3 or less.
MIN_SIMILARITY = 0.4
# Up to this many passages, every vector is compared with the question's. Beyond, each vector's
# signs (48 bytes) pick a shortlist by Hamming distance, and only the shortlist is compared
# exactly; the vectors are kept as float16 (half the memory). On the public FAQ set the closest
# 10% by signs held 95% of the exact top 20; at 100,000 passages the shortlist is 2% for the
# exact top 200 that take part in the fusion.
EXACT_UP_TO = 20_000
SHORTLIST = 2_000


@dataclass
class _Index:
    """One bot's passage vectors, as matrices, for one kb_version of it."""

    ids: Any  # passage ids (numpy int64)
    titles: Any  # (n, DIM) unit vectors
    texts: Any
    position: dict[int, int]
    title_signs: Any = None  # (DIM / 64, n) uint64: the vectors' signs, past EXACT_UP_TO passages
    text_signs: Any = None

    def similarities(self, q: Any) -> list[Any]:
        """The question's similarity to each passage's title and to its text (-1 for passages
        off the shortlist)."""
        import numpy as np

        out = []
        for matrix, signs in ((self.titles, self.title_signs), (self.texts, self.text_signs)):
            if signs is None:
                out.append(matrix @ q)
                continue
            q_signs = np.packbits(q > 0).view(np.uint64)
            distance = np.bitwise_count(signs[0] ^ q_signs[0]).astype(np.uint16)
            for word in range(1, len(q_signs)):  # a 64-bit word of every vector at a time: 0.5 ms at 100,000
                distance += np.bitwise_count(signs[word] ^ q_signs[word])
            short = np.argpartition(distance, SHORTLIST)[:SHORTLIST]
            similarity = np.full(len(matrix), -1.0, dtype=np.float32)
            similarity[short] = matrix[short].astype(np.float32) @ q
            out.append(similarity)
        return out


@dataclass
class _Cache:
    """What search keeps of one bot between searches, for one kb_version of it."""

    key: tuple[Any, ...]
    counts: dict[str, int]
    index: _Index | None = None


_CACHES: dict[tuple[Any, int], _Cache] = {}  # (database, bot) -> its cache, in this process


async def _cache(session: AsyncSession, bot_id: int) -> _Cache | None:
    """The bot's cache, emptied at each change of its knowledge base (``kb_version``)."""
    raw = await statements.raw(session)
    bot = await raw.one("SELECT kb_version, created_at FROM agent_bots WHERE id = :id", {"id": bot_id})
    if bot is None:
        return None
    where = (session.bind.url if session.bind is not None else None, bot_id)  # a URL is hashable: no rendering per search
    key = (int(bot[0]), float(bot[1]))
    cached = _CACHES.get(where)
    if cached is None or cached.key != key:
        cached = _CACHES[where] = _Cache(key, {})
    return cached


async def _index(session: AsyncSession, cache: _Cache, bot_id: int) -> _Index:
    """The bot's vectors, read once per change of its knowledge base."""
    import numpy as np

    from ndoto_cli.core.ai import vectors

    if cache.index is not None:
        return cache.index
    rows = await (await statements.raw(session)).all(
        "SELECT id, title_vector, text_vector FROM kb_passages WHERE agent_bot_id = :bot AND vector_model = :model ORDER BY id",
        {"bot": bot_id, "model": vectors.MODEL},
    )
    titles = vectors.unpack_many([bytes(r[1]) if r[1] is not None else None for r in rows])  # type: ignore[misc]
    texts = vectors.unpack_many([bytes(r[2]) if r[2] is not None else None for r in rows])  # type: ignore[misc]
    index = _Index(np.array([r[0] for r in rows], dtype=np.int64), titles, texts, {int(r[0]): i for i, r in enumerate(rows)})
    if len(rows) > EXACT_UP_TO:
        index.title_signs = np.ascontiguousarray(np.packbits(titles > 0, axis=1).view(np.uint64).T)
        index.text_signs = np.ascontiguousarray(np.packbits(texts > 0, axis=1).view(np.uint64).T)
        index.titles, index.texts = titles.astype(np.float16), texts.astype(np.float16)
    cache.index = index
    return index


RRF_K = 60  # reciprocal rank fusion's usual constant: a passage's rank r in a ranking adds 1 / (K + r)


FUSED = 200  # each ranking's top this many take part in the fusion (the rest would add < 1/260 each)


def _ranks(scores: Any, among: Any) -> Any:
    """Each position's rank (0 = best) among the positions ``among``, for the top ``FUSED`` of them;
    the others get none (inf). A partial sort: the cost stays linear in the passages."""
    import numpy as np

    ranks = np.full(len(scores), np.inf)
    chosen = np.flatnonzero(among)
    values = scores[chosen]
    if len(chosen) > FUSED:
        top = np.argpartition(-values, FUSED)[:FUSED]
        chosen, values = chosen[top], values[top]
    ranks[chosen[np.argsort(-values, kind="stable")]] = np.arange(len(chosen))
    return ranks


async def search(
    session: AsyncSession, *, bot_id: int, question: str, limit: int = 4, query_embedding: list[float] | None = None
) -> list[Hit]:
    """The best passages for a question: reciprocal rank fusion of the full-text ranking and the
    offline vectors' rankings by similarity to each passage's title and to its text (and the
    configured embedding model's, when there is one). A passage is a hit only if the full text
    found it or it is at least ``MIN_SIMILARITY`` similar to the question.

    Why rank fusion: it needs no weights. Measured on the public FAQ set, summing the scaled
    scores instead let the full text (hit@1 0.78 alone) pull the vectors (0.94 alone) down to
    0.90; rank fusion keeps 0.92 and still lets an exact term (an error code, a product name)
    lift the passage that has it."""
    import asyncio

    import numpy as np

    from ndoto_cli.core.ai import vectors

    cache = await _cache(session, bot_id)
    if cache is None:
        return []
    index = await _index(session, cache, bot_id) if vectors.available() else None
    # The question's vectors and similarities are computed in a thread while the database runs
    # the full-text query (numpy, onnxruntime and SQLite each let go of the GIL): two cores, both used.
    meaning = asyncio.ensure_future(asyncio.to_thread(_meaning, index, question)) if index is not None and len(index.ids) else None
    full = await _full_text(session, bot_id=bot_id, question=question, limit=CANDIDATES, counts=cache.counts)
    if meaning is None and query_embedding is None:
        return full[:limit]
    known = {h.passage_id: h for h in full}
    # Positions: the bot's vectored passages first (their order in the index), then full-text hits
    # without vectors. Nothing here walks the passages in Python: at 100,000 that alone took 30 ms.
    vectored_count = len(index.ids) if index is not None else 0
    extra = [pid for pid in known if index is None or pid not in index.position]
    size = vectored_count + len(extra)
    extra_at = {pid: vectored_count + i for i, pid in enumerate(extra)}

    def position(pid: int) -> int:
        return index.position[pid] if index is not None and pid in index.position else extra_at[pid]

    relevant = np.zeros(size, dtype=bool)
    fused = np.zeros(size)
    if full:
        text_scores = np.zeros(size)
        for hit in full:
            text_scores[position(hit.passage_id)] = hit.score
            relevant[position(hit.passage_id)] = True
        fused += 1.0 / (RRF_K + 1 + _ranks(text_scores, relevant))
    if meaning is not None:
        closest = np.full(size, -1.0)
        vectored = np.zeros(size, dtype=bool)
        vectored[:vectored_count] = True
        for scores in await meaning:
            similarity = np.full(size, -1.0)
            similarity[:vectored_count] = scores
            np.maximum(closest, similarity, out=closest)
            fused += 1.0 / (RRF_K + 1 + _ranks(similarity, vectored))
        relevant |= closest >= MIN_SIMILARITY
    if query_embedding is not None:
        similarity, embedded = await _model_similarity(session, bot_id, query_embedding, position, size)
        fused += 1.0 / (RRF_K + 1 + _ranks(similarity, embedded))
    scored = np.where(relevant, fused, -1.0)
    top = np.argpartition(-scored, limit)[:limit] if size > limit else np.arange(size)
    top = top[np.argsort(-scored[top], kind="stable")]
    score_of = {}
    best = []
    for i in top:
        if relevant[i]:
            pid = int(index.ids[i]) if i < vectored_count else extra[i - vectored_count]  # type: ignore[union-attr]
            best.append(pid)
            score_of[pid] = float(fused[i])
    missing = [pid for pid in best if pid not in known]
    if missing:
        marks = ", ".join(f":p{i}" for i in range(len(missing)))
        rows = await (await statements.raw(session)).all(
            f"SELECT p.id, p.title, p.content, d.source FROM kb_passages p JOIN kb_documents d ON d.id = p.document_id WHERE p.id IN ({marks})",
            {f"p{i}": pid for i, pid in enumerate(missing)},
        )
        for r in rows:
            known[int(r[0])] = Hit(int(r[0]), r[1], r[2], 0.0, r[3])
    return [Hit(pid, known[pid].title, known[pid].content, round(score_of[pid], 4), known[pid].source) for pid in best if pid in known]


def _meaning(index: _Index, question: str) -> list[Any]:
    """The question's similarity to each passage's title and text, by the offline model."""
    from ndoto_cli.core.ai import vectors

    return index.similarities(vectors.embed([question])[0])


async def _model_similarity(session: AsyncSession, bot_id: int, query_embedding: list[float], position: Any, size: int) -> tuple[Any, Any]:
    """The configured embedding model's similarity (``NDOTO_EMBEDDING_MODEL``) per position, and
    which positions it embedded."""
    import numpy as np

    rows = (await session.execute(
        select(KbPassage.id, KbPassage.embedding).where(KbPassage.agent_bot_id == bot_id, KbPassage.embedding.is_not(None))  # type: ignore[union-attr]
    )).all()
    similarity = np.full(size, -1.0)
    embedded = np.zeros(size, dtype=bool)
    for pid, embedding in rows:
        try:
            at = position(pid)
        except KeyError:
            continue  # neither vectored nor a full-text hit
        similarity[at] = _cosine(query_embedding, embedding)
        embedded[at] = True
    return similarity, embedded


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def sources(hits: list[Hit]) -> list[dict[str, Any]]:
    """What an answer was grounded on, for its message's ``content_attributes["sources"]``: each
    passage's title (its heading chain) and where it came from: a web page's address (``url``), an
    FAQ entry, or a file's name (the path stays on the server). Agents see them all under the
    bot's message; a website visitor sees only those with an address, as links."""
    out = []
    for hit in hits:
        url = hit.source if hit.source.startswith(("https://", "http://")) else None
        if url is None and hit.source.startswith("faq: "):
            where = "FAQ"
        else:
            where = url or hit.source.replace("\\", "/").rsplit("/", 1)[-1]
        out.append({"passage_id": hit.passage_id, "title": hit.title, "location": where, "url": url})
    return out
