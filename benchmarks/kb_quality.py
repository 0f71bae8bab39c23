"""Knowledge-base retrieval quality on a FAQ set (default: the public one in
../shared/bench/stackfaq: 463 entries, 160 reworded questions with known answers): hit@1, hit@5
and MRR@10 of Ndoto's search on SQLite and, with ``--postgresql``, on a throwaway PostgreSQL
(Debian's server, started here), beside plain BM25 (FTS5, no stemming, no vectors) computed in
the same run on the same entries.

Each FAQ entry is added as Ndoto's FAQ entries are (``ndoto kb add-faq``: its question the title
of its passages, its answer their text). A query hits when a passage of its gold thread comes
back. ``--data`` takes any file of the same shape ({"faqs": [{id, thread, question, answer}],
"queries": [{text, thread}]}).

    python benchmarks/kb_quality.py [--postgresql] [--data PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "bench" / "stackfaq" / "faq_data.json"


async def measure(url: str | None, home: Path, data: dict) -> dict[str, float]:
    from ndoto_cli.core.ai import ingest, search, store
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.services import accounts, bots
    from ndoto_cli.core.settings import Settings

    db = await Database(Settings(home=home, database_url=url)).open()
    try:
        boot = await db.write(lambda s: accounts.bootstrap(s))
        bot, _ = await db.write(lambda s: bots.create_bot(s, account_id=boot.account.id, name="FAQ", bot_type="ai"))
        thread_of: dict[str, str] = {}
        started = time.perf_counter()
        for faq in data["faqs"]:
            path = home / f"{faq['id']}.md"
            raw = f"# {faq['question']}\n\n{faq['answer']}\n"
            thread_of[str(path.resolve())] = faq["thread"]
            sections = ingest.faq_sections(faq["question"], faq["answer"])
            await db.write(lambda s, p=path, r=raw, sec=sections: store.add_document(s, bot_id=bot.id, path=p, raw=r, sections=sec))
        ingest = time.perf_counter() - started
        hit1 = hit5 = rr = 0.0
        started = time.perf_counter()
        async with db.read() as s:
            for query in data["queries"]:
                hits = await search.search(s, bot_id=bot.id, question=query["text"], limit=10)
                ranks = [i for i, h in enumerate(hits) if thread_of.get(h.source) == query["thread"]]
                if ranks:
                    hit1 += ranks[0] == 0
                    hit5 += ranks[0] < 5
                    rr += 1 / (ranks[0] + 1)
        per_query = (time.perf_counter() - started) / len(data["queries"])
        n = len(data["queries"])
        return {"hit@1": hit1 / n, "hit@5": hit5 / n, "mrr@10": rr / n, "ingest_s": ingest, "query_ms": per_query * 1000}
    finally:
        await db.close()


def plain_bm25(data: dict) -> dict[str, float]:
    """The baseline: each entry's question and answer in an FTS5 table with the default tokenizer
    (no stemming), the query's words OR-ed, BM25 as it comes."""
    import re
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(question, answer)")
    conn.executemany("INSERT INTO f (rowid, question, answer) VALUES (?, ?, ?)",
                     [(i, f["question"], f["answer"]) for i, f in enumerate(data["faqs"])])
    hit1 = hit5 = rr = 0.0
    for query in data["queries"]:
        words = re.findall(r"\w+", query["text"].lower())
        rows = conn.execute("SELECT rowid FROM f WHERE f MATCH ? ORDER BY bm25(f) LIMIT 10",
                            (" OR ".join(f'"{w}"' for w in words),)).fetchall() if words else []
        ranks = [i for i, (rowid,) in enumerate(rows) if data["faqs"][rowid]["thread"] == query["thread"]]
        if ranks:
            hit1 += ranks[0] == 0
            hit5 += ranks[0] < 5
            rr += 1 / (ranks[0] + 1)
    n = len(data["queries"])
    return {"hit@1": hit1 / n, "hit@5": hit5 / n, "mrr@10": rr / n, "ingest_s": 0.0, "query_ms": 0.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgresql", action="store_true", help="also measure on a throwaway PostgreSQL")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.data.exists():
        print(f"no data at {args.data}: see ../shared/bench/stackfaq/README.md")
        return 1
    data = json.loads(args.data.read_text(encoding="utf-8"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["Ndoto on SQLite"] = asyncio.run(measure(None, Path(tmp) / "sqlite", data))
        if args.postgresql:
            from tests.postgres import Cluster, empty_database

            cluster = Cluster(durable=True)
            cluster.start()
            try:
                results["Ndoto on PostgreSQL"] = asyncio.run(measure(empty_database(cluster), Path(tmp) / "pg", data))
            finally:
                cluster.stop()
    results = {"plain BM25 (FTS5, no stemming)": plain_bm25(data), **results}
    print(f"{len(data['faqs'])} FAQ entries, {len(data['queries'])} reworded questions")
    for name, r in results.items():
        timing = f"  (ingest {r['ingest_s']:.1f} s, {r['query_ms']:.1f} ms per question)" if r["ingest_s"] else ""
        print(f"  {name:<32} hit@1 {r['hit@1']:.3f}  hit@5 {r['hit@5']:.3f}  MRR@10 {r['mrr@10']:.3f}{timing}")
    ours = results["Ndoto on SQLite"]
    print(f"  targets (the offline default): hit@1 >= 0.88 ({'met' if ours['hit@1'] >= 0.88 else 'NOT met'}), "
          f"hit@5 >= 0.97 ({'met' if ours['hit@5'] >= 0.97 else 'NOT met'})")
    if "Ndoto on PostgreSQL" in results:
        pg = results["Ndoto on PostgreSQL"]
        print(f"  PostgreSQL - SQLite: hit@1 {pg['hit@1'] - ours['hit@1']:+.3f} (target: within 0.03)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
