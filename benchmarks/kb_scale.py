"""Knowledge-base scale: ingest rate and search latency at 1,000 and at 100,000 passages, in one run.

* 1,000 passages through the real ingest (every passage's title and text embedded by the
  offline model, then written): passages/s; then search p50/p95 over 160 questions.
* grown to 100,000 passages (``--passages``): the extra passages are written with vectors made
  up here (unit vectors at random), because embedding 100,000 passages takes this 2-core machine
  over an hour and their meaning does not change the cost of a search; then the first search
  (which loads the bot's vectors into memory once per change) and p50/p95 over the same questions.

The text of the passages comes from the public FAQ set (../shared/bench/stackfaq), numbered so
that each passage is distinct. Aim (issue 16): p95 under 50 ms for the offline default.
Run: ``.venv/bin/python benchmarks/kb_scale.py [--passages N] [--postgresql]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "bench" / "stackfaq" / "faq_data.json"
PER_DOCUMENT = 100


async def _searches(db: Any, bot_id: int, questions: list[str]) -> tuple[float, float, float]:
    from ndoto_cli.core.ai import search

    timings = []
    for q in questions:
        started = time.perf_counter()
        async with db.read() as s:
            await search.search(s, bot_id=bot_id, question=q, limit=4)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1], timings[-1]


async def main(total: int, url: str | None) -> None:
    import numpy as np

    from ndoto_cli.core.ai import search, store, vectors
    from ndoto_cli.core.ai.ingest import Section
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.services import accounts, bots
    from ndoto_cli.core.settings import Settings

    data = json.loads(DATA.read_text(encoding="utf-8"))
    texts = [(f["question"], f["answer"][:1200]) for f in data["faqs"]]
    questions = [q["text"] for q in data["queries"]]
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database(Settings(home=Path(tmp), database_url=url)).open()
        try:
            boot = await db.write(lambda s: accounts.bootstrap(s))
            bot, _ = await db.write(lambda s: bots.create_bot(s, account_id=boot.account.id, name="Scale", bot_type="ai"))
            n = 0

            def sections(count: int) -> list[Section]:
                nonlocal n
                out = []
                for _ in range(count):
                    title, text = texts[n % len(texts)]
                    out.append(Section(f"{title} ({n})", f"{text} [{n}]"))
                    n += 1
                return out

            # 1,000 passages, the real way: embedded, then written.
            started = time.perf_counter()
            for _ in range(1000 // PER_DOCUMENT):
                secs = sections(PER_DOCUMENT)
                made = store.section_vectors(secs)
                await db.write(lambda s, secs=secs, made=made, k=n: store.add_document(
                    s, bot_id=bot.id, sections=secs, raw=str(k), source=f"doc {k}", vectors=made))
            rate = 1000 / (time.perf_counter() - started)
            async with db.read() as s:
                await search.search(s, bot_id=bot.id, question="warm up", limit=4)
            p50, p95, worst = await _searches(db, bot.id, questions)
            print(f"1,000 passages: ingest {rate:6.0f} passages/s (embedding title and text); "
                  f"search p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms")

            rng = np.random.default_rng(20261202)
            started = time.perf_counter()
            while n < total:
                secs = sections(min(PER_DOCUMENT, total - n))
                random = rng.standard_normal((2 * len(secs), vectors.DIM)).astype(np.float32)
                random /= np.linalg.norm(random, axis=1, keepdims=True)
                made = [(vectors.pack(random[2 * i]), vectors.pack(random[2 * i + 1])) for i in range(len(secs))]
                await db.write(lambda s, secs=secs, made=made, k=n: store.add_document(
                    s, bot_id=bot.id, sections=secs, raw=str(k), source=f"doc {k}", vectors=made))
            write_rate = (total - 1000) / (time.perf_counter() - started)
            started = time.perf_counter()
            async with db.read() as s:
                await search.search(s, bot_id=bot.id, question="warm up", limit=4)
            first = (time.perf_counter() - started) * 1000
            p50, p95, worst = await _searches(db, bot.id, questions)
            print(f"{total:,} passages: written at {write_rate:6.0f} passages/s with their vectors given; first search "
                  f"(loads the vectors) {first:.0f} ms; then p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms "
                  f"(aim: p95 < 50 ms)")
        finally:
            await db.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--postgresql", action="store_true", help="on a throwaway PostgreSQL instead of SQLite")
    args = parser.parse_args()
    cluster = None
    if args.postgresql:
        from tests.postgres import Cluster, empty_database

        cluster = Cluster(durable=True)
        cluster.start()
        print("PostgreSQL: a throwaway cluster with its default durability")
    try:
        asyncio.run(main(max(args.passages, 1000), empty_database(cluster) if cluster else None))
    finally:
        if cluster is not None:
            cluster.stop()
