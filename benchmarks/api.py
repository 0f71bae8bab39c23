"""Messages/s through the REST API: POST /conversations/{id}/messages with a bot token, against a
real ``ndoto serve`` process (uvicorn, dispatcher off so only the write path is measured), beside
the same server's /health as the ceiling of a bare endpoint, in one run.
Run: ``.venv/bin/python benchmarks/api.py [--requests N] [--concurrency C] [--runs N] [--postgresql [--processes N]] [--compare]``
(``--postgresql``: on a throwaway PostgreSQL with its default durability)."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


async def drive(url: str | list[str], n: int, concurrency: int, *, json: dict | None, headers: dict[str, str]) -> float:
    urls = [url] if isinstance(url, str) else url
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        left = n

        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                url = urls[left % len(urls)]
                if json is None:
                    async with session.get(url, headers=headers) as resp:
                        await resp.read()
                else:
                    async with session.post(url, json=json, headers=headers) as resp:
                        assert resp.status == 200, await resp.text()
                        await resp.read()

        start = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return n / (time.perf_counter() - start)


async def main(n: int, concurrency: int, database_url: str | None, conversations: int = 1, processes: int = 1) -> tuple[float, float]:
    """Messages/s and the bare ceiling, with ``processes`` servers on one database (PostgreSQL)."""
    from tests.serve_process import start_serve

    env = {"NDOTO_DISPATCHER": "false", "NDOTO_CONVERSATION_MESSAGES_PER_MINUTE": "100000", "NDOTO_NEW_CONTACTS_PER_MINUTE": "100000",
           "NDOTO_PUBLIC_REQUESTS_PER_MINUTE": "1000000"}
    if database_url:
        env["NDOTO_DATABASE_URL"] = database_url
    with tempfile.TemporaryDirectory() as tmp:
        servers = [start_serve(Path(tmp) / "home", extra_env=env)]
        try:
            for i in range(1, processes):
                servers.append(start_serve(Path(tmp) / f"home{i}", extra_env=env))
            served = servers[0]
            admin = {"api_access_token": served.token or ""}
            base = f"{served.base_url}/api/v1/accounts/1"
            async with aiohttp.ClientSession(headers=admin) as s:
                inbox = await (await s.post(f"{base}/inboxes", json={"name": "API", "channel": {"type": "api"}})).json()
                bot = await (await s.post(f"{base}/agent_bots", json={"name": "B", "outgoing_url": "https://127.0.0.1:9/h"})).json()
                await s.post(f"{base}/inboxes/{inbox['id']}/set_agent_bot", json={"agent_bot": bot["id"]})
                public = f"{served.base_url}/public/api/v1/inboxes/{inbox['inbox_identifier']}"
                conv_ids = []
                for i in range(conversations):
                    contact = await (await s.post(f"{public}/contacts", json={"name": f"Customer {i}"})).json()
                    conv_ids.append((await (await s.post(f"{public}/contacts/{contact['source_id']}/conversations")).json())["id"])
            ceiling = await drive([f"{x.base_url}/health" for x in servers], n, concurrency, json=None, headers={})
            rate = await drive(
                [f"{x.base_url}/api/v1/accounts/1/conversations/{c}/messages" for c in conv_ids for x in servers], n, concurrency,
                json={"content": "Thanks! We are on it.", "message_type": "outgoing"}, headers={"api_access_token": bot["access_token"]},
            )
            from tests.sql import run_sql

            stored = run_sql(Path(tmp) / "home", "SELECT count(*) FROM messages WHERE content = 'Thanks! We are on it.'", url=database_url)[0][0]
            if stored != n:
                raise SystemExit(f"benchmark broken: {n} messages answered 200, {stored} stored")
        finally:
            for x in servers:
                x.stop()
    return rate, ceiling


def report(label: str, rate: float, ceiling: float, concurrency: int, conversations: int) -> None:
    print(f"{label}: bare endpoint (/health), concurrency {concurrency}: {ceiling:8.0f} requests/s")
    print(f"{label}: POST message (message + event + delivery):  {rate:8.0f} messages/s ({rate / ceiling:.0%} of it; "
          f"{conversations} conversation{'s' if conversations > 1 else ''}; every one answered 200 and stored)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3, help="runs, each on a fresh server beside its own /health; the median ratio last")
    parser.add_argument("--conversations", type=int, default=1, help="spread the messages over this many conversations")
    parser.add_argument("--postgresql", action="store_true", help="on a throwaway PostgreSQL instead of SQLite")
    parser.add_argument("--processes", type=int, default=1, help="servers on one PostgreSQL database, the requests spread over them")
    parser.add_argument("--compare", action="store_true",
                        help="in one run: SQLite, PostgreSQL with 1 server, PostgreSQL with --processes servers (default 3)")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if args.processes > 1 and not (args.postgresql or args.compare):
        parser.error("--processes needs --postgresql: several servers share a PostgreSQL database, not a SQLite file")
    cluster = None
    if args.postgresql or args.compare:
        from tests.postgres import Cluster, empty_database

        cluster = Cluster(durable=True)
        cluster.start()
        print("PostgreSQL: a throwaway cluster with its default durability (fsync, synchronous commit)")
    try:
        runs: list[tuple[str, str | None, int]] = []
        if args.compare:
            many = args.processes if args.processes > 1 else 3
            runs = [("SQLite, 1 server", None, 1), ("PostgreSQL, 1 server", "pg", 1), (f"PostgreSQL, {many} servers", "pg", many)]
        else:
            runs = [("PostgreSQL" if cluster else "SQLite", "pg" if cluster else None, args.processes)]
        for label, kind, processes in runs:
            if processes > 1:
                label += f" ({args.requests} requests spread over them)"
            ratios = []
            for n in range(args.runs):
                url = empty_database(cluster) if kind and cluster else None
                rate, ceiling = asyncio.run(main(args.requests, args.concurrency, url, args.conversations, processes))
                ratios.append(rate / ceiling)
                report(label + (f" (run {n + 1} of {args.runs})" if args.runs > 1 else ""), rate, ceiling, args.concurrency,
                       args.conversations)
            if args.runs > 1:
                ratio = statistics.median(ratios)
                print(f"{label}: ingest against the bare endpoint, median of {args.runs} runs: {ratio:.0%} "
                      f"(target 40%: {'ok' if ratio >= 0.4 else 'MISSES'})")
    finally:
        if cluster is not None:
            cluster.stop()
