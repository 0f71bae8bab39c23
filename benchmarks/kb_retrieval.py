"""Knowledge-base retrieval on a public FAQ set (../shared/bench/stackfaq: 463 entries, 160
reworded questions with known answers): hit@1, hit@5 and MRR@10 of Ndoto's search, on SQLite and,
with ``--postgresql``, on a throwaway PostgreSQL (Debian's server, started here), in the same run.

Each FAQ entry is one document, its question as the heading and its answer as the text, added
through the knowledge base's own ingest. A query hits when a passage of its gold thread comes back.

    python benchmarks/kb_retrieval.py [--postgresql] [--data PATH]
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
    from ndoto_cli.core.ai import search, store
    from ndoto_cli.core.ai.ingest import Section
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
            await db.write(lambda s, p=path, r=raw, f=faq: store.add_document(
                s, bot_id=bot.id, path=p, raw=r, sections=[Section(f["question"], f["answer"])]))
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
        results["SQLite (FTS5 BM25)"] = asyncio.run(measure(None, Path(tmp) / "sqlite", data))
        if args.postgresql:
            from tests.postgres import Cluster, empty_database

            cluster = Cluster(durable=True)
            cluster.start()
            try:
                results["PostgreSQL (tsvector, ts_rank)"] = asyncio.run(measure(empty_database(cluster), Path(tmp) / "pg", data))
            finally:
                cluster.stop()
    print(f"{len(data['faqs'])} FAQ entries, {len(data['queries'])} reworded questions")
    for name, r in results.items():
        print(f"  {name:<32} hit@1 {r['hit@1']:.3f}  hit@5 {r['hit@5']:.3f}  MRR@10 {r['mrr@10']:.3f}  "
              f"(ingest {r['ingest_s']:.1f} s, {r['query_ms']:.1f} ms per question)")
    if len(results) == 2:
        a, b = results.values()
        print(f"  PostgreSQL - SQLite: hit@1 {b['hit@1'] - a['hit@1']:+.3f} (target: within 0.03)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
