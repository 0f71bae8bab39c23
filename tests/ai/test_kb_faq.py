"""The knowledge base by meaning: FAQ entries, offline vectors, long paragraphs, sources, and the
commands that show what the agent sees. On each database of the suite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ndoto_cli.commands.app import app
from ndoto_cli.core.ai import ingest, search, store
from ndoto_cli.core.db import Database
from tests.commands.conftest import Cli
from tests.sql import run_sql


@pytest.fixture
def cli(ndoto_home: Path) -> Cli:
    return Cli()


async def test_a_question_sharing_no_word_with_its_answer_is_found_by_meaning(db: Database, ai_bot: int, tmp_path: Path) -> None:
    """Full text cannot match "mail" to "e-mail address" nor "parcel" to "package"; the offline
    vectors do, and an unrelated question still finds nothing."""
    for name, text in {
        "account.md": "# Changing your e-mail address\n\nOpen Settings, then Profile, and type the new address.\n",
        "shipping.md": "# Shipping\n\nPackages leave the warehouse within two working days.\n",
    }.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        await db.write(lambda s, p=tmp_path / name: store.add_document(s, bot_id=ai_bot, path=p))
    async with db.read() as s:
        found = await search.search(s, bot_id=ai_bot, question="how do I update my mail?", limit=1)
        assert [h.title for h in found] == ["Changing your e-mail address"]
        found = await search.search(s, bot_id=ai_bot, question="when does my parcel get sent out?", limit=1)
        assert [h.title for h in found] == ["Shipping"]
        assert await search.search(s, bot_id=ai_bot, question="what is the weather on Mars?") == []


def test_a_long_paragraph_is_cut_at_sentence_boundaries() -> None:
    sentence = "Refunds reach the card they were paid with within seven working days of our receiving the item. "
    sections = ingest.split("# Refunds\n\n" + sentence * 40, default_title="x")
    assert len(sections) > 1 and all(len(s.content) <= ingest.MAX_PASSAGE for s in sections)
    assert all(s.title == "Refunds" and s.content.endswith("item.") for s in sections)  # whole sentences only
    assert " ".join(s.content for s in sections) == (sentence * 40).strip()  # nothing lost, nothing doubled


def test_faq_entries_are_added_imported_shown_searched_and_replaced(cli: Cli, tmp_path: Path) -> None:
    cli("init")
    cli("bots", "create", "--type", "ai", "--name", "Helper")
    added = cli.json("kb", "add-faq", "Helper", "--question", "Do you ship abroad?", "--answer", "Only within Zambia for now.")
    assert added["changed"] and added["source"] == "faq: Do you ship abroad?"
    again = cli.json("kb", "add-faq", "Helper", "--question", "Do  you ship abroad?", "--answer", "Only within Zambia for now.")
    assert again["id"] == added["id"] and not again["changed"]  # the same question, the same answer: unchanged
    changed = cli.json("kb", "add-faq", "Helper", "--question", "Do you ship abroad?", "--answer", "Zambia and Malawi.")
    assert changed["id"] == added["id"] and changed["changed"]  # the same question replaces its answer

    csv_file = tmp_path / "faq.csv"
    csv_file.write_text('Question,Answer\n"How do I pay?","By card or mobile money."\n"Can I pick up in person?","Yes, at our Lusaka shop."\n', encoding="utf-8")
    assert [r["changed"] for r in cli.json("kb", "import-faq", "Helper", str(csv_file))] == [True, True]
    jsonl = tmp_path / "faq.jsonl"
    jsonl.write_text(json.dumps({"question": "Is there a warranty?", "answer": "Twelve months on electronics."}) + "\n", encoding="utf-8")
    assert cli.json("kb", "import-faq", "Helper", str(jsonl))[0]["changed"]
    assert len(cli.json("kb", "list", "Helper")) == 4

    # A bad file is refused whole, naming its line; nothing of it is written.
    bad = tmp_path / "bad.csv"
    bad.write_text('question,answer\n"Fine?","Yes."\n"","An answer with no question"\n', encoding="utf-8")
    result = cli("kb", "import-faq", "Helper", str(bad), code=1)
    assert "line 3" in result.stderr and "needs its question" in result.stderr
    assert len(cli.json("kb", "list", "Helper")) == 4
    assert "needs a header with question and answer" in cli("kb", "import-faq", "Helper", str(_write(tmp_path / "h.csv", "q,a\nx,y\n")), code=1).stderr

    shown = cli.json("kb", "show", "Helper", "Do you ship abroad?")
    assert [p["content"] for p in shown["passages"]] == ["Zambia and Malawi."] and shown["passages"][0]["vectors"]
    assert shown["passages"][0]["title"] == "Do you ship abroad?"

    # Many questions in one process, from standard input; answers are JSON lines, in order.
    lines = "\n".join(json.dumps({"question": q}) for q in ["can I pay with my phone?", "is my laptop guaranteed?"])
    result = cli.runner.invoke(app, ["kb", "search", "Helper", "--queries", "-", "--limit", "1"], input=lines)
    assert result.exit_code == 0, result.stderr
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert [a["hits"][0]["title"] for a in answers] == ["How do I pay?", "Is there a warranty?"]
    assert "not both" in cli("kb", "search", "Helper", "x", "--queries", "-", code=1).stderr


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_reindex_gives_old_passages_their_vectors(cli: Cli, ndoto_home: Path) -> None:
    """Passages stored before the vectors existed (here: their vectors wiped) are found by full
    text until `kb reindex`, then by meaning too."""
    cli("init")
    cli("bots", "create", "--type", "ai", "--name", "Helper")
    cli("kb", "add-faq", "Helper", "--question", "How do I change my e-mail address?", "--answer", "Settings, then Profile.")
    run_sql(ndoto_home, "UPDATE kb_passages SET title_vector = NULL, text_vector = NULL, vector_model = NULL")
    run_sql(ndoto_home, "UPDATE agent_bots SET kb_version = kb_version + 1")
    assert cli.json("kb", "search", "Helper", "switch my login mailbox") == []  # no shared word, no vectors
    assert cli.json("kb", "reindex", "Helper") == {"bot": "Helper", "reindexed": 1}
    assert cli.json("kb", "search", "Helper", "switch my login mailbox")[0]["title"] == "How do I change my e-mail address?"
    assert cli.json("kb", "reindex", "Helper")["reindexed"] == 0


def test_without_the_offline_model_search_goes_on_by_full_text(ndoto_home: Path, tmp_path: Path) -> None:
    """A broken install (the model's files gone): full text still answers, `kb reindex` says
    what is missing in one line. In a process of its own: the model is loaded once per process."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NDOTO_HOME": str(ndoto_home), "NDOTO_VECTOR_MODEL_DIR": str(tmp_path / "nowhere")}

    def ndoto(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "ndoto_cli", *args], env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)

    assert ndoto("init").returncode == 0
    assert ndoto("bots", "create", "--type", "ai", "--name", "Helper").returncode == 0
    assert ndoto("kb", "add-faq", "Helper", "--question", "Do you ship abroad?", "--answer", "Only within Zambia.").returncode == 0
    found = ndoto("kb", "search", "Helper", "ship abroad", "--json")
    assert found.returncode == 0 and json.loads(found.stdout)[0]["title"] == "Do you ship abroad?"
    failed = ndoto("kb", "reindex", "Helper")
    assert failed.returncode == 1 and "offline model" in failed.stderr and "Traceback" not in failed.stderr


def test_an_answers_sources_reach_agents_and_only_links_reach_visitors() -> None:
    from ndoto_cli.server.widget.live import visible_attributes

    hits = [search.Hit(1, "Returns > Refund timing", "...", 1.0, "/srv/help/returns.md"),
            search.Hit(2, "Do you ship abroad?", "...", 0.9, "faq: Do you ship abroad?"),
            search.Hit(3, "Delivery", "...", 0.8, "https://shop.example/help/delivery")]
    sources = search.sources(hits)
    assert [s["location"] for s in sources] == ["returns.md", "FAQ", "https://shop.example/help/delivery"]
    assert "/srv" not in json.dumps(sources)  # the server's paths stay on the server
    assert visible_attributes({"sources": sources}) == {"sources": [{"title": "Delivery", "url": "https://shop.example/help/delivery"}]}


def test_a_search_affords_its_rarest_words_first() -> None:
    """The full-text query reads each word's list of passages: past the budget (SQLite's 10,000), the
    commonest words (the ones BM25 weighs least) are left out; the rarest is always kept."""
    import asyncio

    counts = {"password": 40, "reset": 900, "account": 6_000, "google": 9_000, "zebra": 0}
    kept = asyncio.run(search._affordable(None, ["google", "account", "password", "reset", "zebra"], counts))
    assert kept == ["password", "reset", "account"]  # 6,940 postings; google's 9,000 more would pass 10,000
    assert asyncio.run(search._affordable(None, ["google"], {"google": 50_000})) == ["google"]


async def test_past_a_size_the_vectors_are_shortlisted_by_their_signs_with_the_same_answers(
    db: Database, ai_bot: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Big knowledge bases compare the question with a shortlist picked by the vectors' signs
    (float16 kept): here forced at a few passages, the answers are the exact path's, and each
    bot's full-text index holds only its own passages (the bot is a term of the index)."""
    from ndoto_cli.core.services import bots as bot_service

    topics = {
        "Opening hours": "We open at eight and close at five on weekdays.", "Parking": "Free parking is behind the shop.",
        "Gift cards": "Gift cards never expire and work online.", "Refunds": "Refunds reach your card within a week.",
        "Delivery": "Parcels arrive within three working days.", "Passwords": "Reset your password from the sign-in page.",
        "Warranty": "Kettles carry a two-year warranty.", "Payment": "We take cards and mobile money.",
    }
    for title, text in topics.items():
        (tmp_path / f"{title}.md").write_text(f"# {title}\n\n{text}\n", encoding="utf-8")
        await db.write(lambda s, p=tmp_path / f"{title}.md": store.add_document(s, bot_id=ai_bot, path=p))
    questions = ["when do you open?", "where can I leave my car?", "my parcel is late", "I forgot my login"]

    async def answers() -> list[str]:
        async with db.read() as s:
            return [(await search.search(s, bot_id=ai_bot, question=q, limit=1))[0].title for q in questions]

    exact = await answers()
    assert exact == ["Opening hours", "Parking", "Delivery", "Passwords"]
    monkeypatch.setattr(search, "EXACT_UP_TO", 4)
    monkeypatch.setattr(search, "SHORTLIST", 6)
    await db.write(lambda s: store.bump(s, ai_bot))  # the cache is rebuilt, now with signs
    assert await answers() == exact
    async with db.read() as s:
        cache = await search._cache(s, ai_bot)
        assert cache is not None and cache.index is not None and cache.index.title_signs is not None

    other, _ = await db.write(lambda s: bot_service.create_bot(s, account_id=None, name="Other", bot_type="ai"))
    (tmp_path / "other.md").write_text("# Opening hours\n\nThe other shop opens at noon.\n", encoding="utf-8")
    await db.write(lambda s: store.add_document(s, bot_id=other.id, path=tmp_path / "other.md"))
    async with db.read() as s:
        mine = await search.search(s, bot_id=ai_bot, question="when do you open at noon?", limit=8)
        theirs = await search.search(s, bot_id=other.id, question="when do you open?", limit=8)
    assert "noon" not in " ".join(h.content for h in mine) and [h.content for h in theirs] == ["The other shop opens at noon."]
