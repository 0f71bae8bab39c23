"""Knowledge base: structure-aware passages, idempotent ingest, BM25 retrieval of paraphrases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ndoto_cli.core.ai import ingest, search, store
from ndoto_cli.core.db import Database
from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.services import bots
from tests.ai.conftest import EXAMPLES


def test_split_keeps_headings_as_titles() -> None:
    text = "# Returns\n\nIntro.\n\n## Refund timing\n\nFive to seven days.\n\n### Mobile money\n\nWithin 24 hours.\n"
    sections = ingest.split(text, default_title="doc")
    assert [s.title for s in sections] == ["Returns", "Returns > Refund timing", "Returns > Refund timing > Mobile money"]
    assert sections[1].content == "Five to seven days."


def test_long_sections_are_cut_at_paragraphs() -> None:
    para = "word " * 150
    sections = ingest.split("# T\n\n" + "\n\n".join([para] * 5), default_title="doc")
    assert len(sections) > 1 and all(len(s.content) <= ingest.MAX_PASSAGE + len(para) for s in sections)


def test_html_becomes_sections() -> None:
    _raw, sections = ingest.read_document(EXAMPLES / "shop-help" / "gift-cards.html")
    assert [s.title for s in sections] == ["Gift cards > Buying a gift card", "Gift cards > Using a gift card"]
    assert "font-family" not in sections[0].content


async def test_ingest_is_idempotent_and_replaces_changed_files(db: Database, ai_bot: int, tmp_path: Path) -> None:
    doc = tmp_path / "faq.md"
    doc.write_text("# FAQ\n\n## Opening hours\n\nWe open at 8.\n", encoding="utf-8")
    first, changed = await db.write(lambda s: store.add_document(s, bot_id=ai_bot, path=doc))
    assert changed and first.passages == 1
    _again, changed = await db.write(lambda s: store.add_document(s, bot_id=ai_bot, path=doc))
    assert not changed
    doc.write_text("# FAQ\n\n## Opening hours\n\nWe open at 9.\n\n## Parking\n\nFree parking behind the shop.\n", encoding="utf-8")
    updated, changed = await db.write(lambda s: store.add_document(s, bot_id=ai_bot, path=doc))
    assert changed and updated.id == first.id and updated.passages == 2
    async with db.read() as s:
        hits = await search.search(s, bot_id=ai_bot, question="when do you open?")
        assert [h.content for h in hits] == ["We open at 9."]
        assert len(await store.list_documents(s, bot_id=ai_bot)) == 1
    await db.write(lambda s: store.remove_document(s, bot_id=ai_bot, ref="faq.md"))
    async with db.read() as s:
        assert await search.search(s, bot_id=ai_bot, question="when do you open?") == []


async def test_a_deleted_bots_passages_leave_the_index(db: Database, ai_bot: int, tmp_path: Path) -> None:
    """Deleting a bot removes its passages by cascade; their full-text rows went too late (never):
    SQLite reused the ids and the next bot's `kb add` failed with "constraint failed"."""
    from sqlalchemy import text

    doc = tmp_path / "returns.md"
    doc.write_text("# Returns\n\nYou can return items within 30 days.\n", encoding="utf-8")
    await db.write(lambda s: store.add_document(s, bot_id=ai_bot, path=doc))
    async with db.read() as s:
        account_id = (await store.require_ai_bot(s, bot_id=ai_bot)).account_id
    await db.write(lambda s: bots.delete_bot(s, account_id=account_id, bot_id=ai_bot))
    other, _ = await db.write(lambda s: bots.create_bot(s, account_id=account_id, name="Other", bot_type="ai"))
    doc2 = tmp_path / "shipping.md"
    doc2.write_text("# Shipping\n\nWe ship in two days.\n", encoding="utf-8")
    await db.write(lambda s: store.add_document(s, bot_id=other.id, path=doc2))
    async with db.read() as s:
        if db.is_sqlite:  # PostgreSQL's index is a generated column of the passage itself
            assert (await s.execute(text("SELECT count(*) FROM kb_fts"))).scalar_one() == 1
        assert await search.search(s, bot_id=other.id, question="can I return an item?") == []
        assert [h.content for h in await search.search(s, bot_id=other.id, question="how fast do you ship?")] == ["We ship in two days."]


async def test_paraphrased_questions_find_their_passage(db: Database, ai_bot: int) -> None:
    for path in sorted((EXAMPLES / "shop-help").iterdir()):
        await db.write(lambda s, p=path: store.add_document(s, bot_id=ai_bot, path=p))
    cases = [json.loads(line) for line in (EXAMPLES / "shop-help-questions.jsonl").read_text().splitlines() if line.strip()]
    cases = [c for c in cases if c.get("expect_passage")]
    hits = 0
    async with db.read() as s:
        for case in cases:
            found = await search.search(s, bot_id=ai_bot, question=case["question"], limit=4)
            hits += any(case["expect_passage"].lower() in (h.title + h.content).lower() for h in found)
    rate = hits / len(cases)
    print(f"BM25 retrieval hit rate on the example set: {hits}/{len(cases)} = {rate:.0%}")
    assert rate >= 0.8


def _minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF with Helvetica text, written by hand so the test needs no PDF writer."""
    text = "BT /F1 12 Tf 72 720 Td 14 TL " + " ".join(f"({line}) Tj T*" for line in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(text)} >>\nstream\n{text}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


async def test_pdf_documents(db: Database, ai_bot: int, tmp_path: Path) -> None:
    pdf = tmp_path / "warranty-policy.pdf"
    pdf.write_bytes(_minimal_pdf(["Warranty", "All electronics carry a two year warranty."]))
    doc, changed = await db.write(lambda s: store.add_document(s, bot_id=ai_bot, path=pdf))
    assert changed and doc.passages == 1
    async with db.read() as s:
        hits = await search.search(s, bot_id=ai_bot, question="how long is the warranty on a laptop?")
    assert hits and "two year warranty" in hits[0].content and hits[0].title == "Warranty Policy > Page 1"
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4 not really")
    with pytest.raises(Invalid, match="cannot read this PDF"):
        await db.write(lambda s: store.add_document(s, bot_id=ai_bot, path=broken))
