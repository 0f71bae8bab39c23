"""Messages/s through the REST API: POST /conversations/{id}/messages with a bot token, against a
real ``ndoto serve`` process (uvicorn, dispatcher off so only the write path is measured), beside
the same server's /health as the ceiling of a bare endpoint, in one run.
Run: ``.venv/bin/python benchmarks/api.py [--requests N] [--concurrency C] [--postgresql]``
(``--postgresql``: on a throwaway PostgreSQL with its default durability)."""

from __future__ import annotations

import argparse
import asyncio
import os
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


async def main(n: int, concurrency: int, database_url: str | None, conversations: int = 1) -> None:
    from tests.serve_process import start_serve

    env = {"NDOTO_DISPATCHER": "false", "NDOTO_CONVERSATION_MESSAGES_PER_MINUTE": "100000", "NDOTO_NEW_CONTACTS_PER_MINUTE": "100000",
           "NDOTO_PUBLIC_REQUESTS_PER_MINUTE": "1000000"}
    if database_url:
        env["NDOTO_DATABASE_URL"] = database_url
    with tempfile.TemporaryDirectory() as tmp:
        served = start_serve(Path(tmp) / "home", extra_env=env)
        try:
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
            ceiling = await drive(f"{served.base_url}/health", n, concurrency, json=None, headers={})
            rate = await drive(
                [f"{base}/conversations/{c}/messages" for c in conv_ids], n, concurrency,
                json={"content": "Thanks! We are on it.", "message_type": "outgoing"}, headers={"api_access_token": bot["access_token"]},
            )
        finally:
            served.stop()
    print(f"bare endpoint (/health), concurrency {concurrency}:        {ceiling:8.0f} requests/s")
    print(f"POST message (message + event + delivery), same server:  {rate:8.0f} messages/s ({rate / ceiling:.0%} of it; "
          f"{conversations} conversation{'s' if conversations > 1 else ''})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--conversations", type=int, default=1, help="spread the messages over this many conversations")
    parser.add_argument("--postgresql", action="store_true", help="on a throwaway PostgreSQL instead of SQLite")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cluster = None
    if args.postgresql:
        from tests.postgres import Cluster, empty_database

        cluster = Cluster(durable=True)
        cluster.start()
        print("database: PostgreSQL (a throwaway cluster with its default durability)")
    try:
        asyncio.run(main(args.requests, args.concurrency, empty_database(cluster) if cluster else None, args.conversations))
    finally:
        if cluster is not None:
            cluster.stop()
