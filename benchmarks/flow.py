"""The product document's flow as one figure, on a real ``ndoto serve`` (dispatcher on):

a customer's message on the public API -> the signed ``message_created`` webhook -> a minimal
bot (its own process, as a bot would be: it verifies the signature and replies through the REST
API with its token) -> the reply stored -> the reply's own ``message_created`` delivered back.

Customers write at ``--rate`` messages a second in all (default 100), spread over as many
conversations (one message a second each), on a fixed schedule that does not wait for answers
(an open loop: a slow answer does not slow the next customer down). For every message it prints
the p50 and p99 of

* customer's POST -> reply stored: from just before the customer's POST to the bot's reply
  being answered 200 (the API answers once the reply is committed), less the bot's own think
  time (from the webhook's arrival to the start of its reply: signature check and JSON);
  target p99 under 50 ms (issue 18);
* customer's POST -> the reply's own event at the bot, less the same think time;

and the parts: POST -> webhook at the bot, reply POST -> 200. Every message must come back as a
reply and an event, or the script fails. Clocks: ``time.time()`` in both processes (one machine).
Each of ``--runs`` (3) starts a fresh server; the medians of the runs' figures come last.
Run: ``.venv/bin/python benchmarks/flow.py [--rate N] [--seconds N] [--runs N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CEILING_P99 = 50.0  # ms

BOT = r"""
import asyncio, json, sys, time
import aiohttp
from aiohttp import web
from standardwebhooks import Webhook

port, api, token, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
verify = Webhook(secret).verify
seen = {}  # content -> {"in": t, "start": t, "stored": t, "echo": t, "status": code}
replies = set()
client = None

async def reply(conversation, content, record):
    record["start"] = time.time()
    async with client.post(f"{api}/conversations/{conversation}/messages",
                           json={"content": "re: " + content, "message_type": "outgoing"},
                           headers={"api_access_token": token}) as resp:
        await resp.read()
        record["status"] = resp.status
    record["stored"] = time.time()

async def hook(request):
    arrived = time.time()
    body = await request.read()
    event = verify(body, dict(request.headers))  # raises (500 here) if forged: nothing should be
    content = event.get("content") or ""
    if event.get("event") == "message_created" and event.get("message_type") == "incoming":
        record = seen.setdefault(content, {})
        record["in"] = arrived
        asyncio.get_running_loop().create_task(reply(event["conversation"]["id"], content, record))
    elif event.get("event") == "message_created" and content.startswith("re: "):
        seen.setdefault(content[4:], {})["echo"] = arrived
    return web.Response(text="ok")

async def stats(request):
    return web.json_response(seen)

async def start(app):
    global client
    client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

async def stop(app):
    await client.close()

app = web.Application()
app.on_startup.append(start)
app.on_cleanup.append(stop)
app.router.add_post("/hook", hook)
app.router.add_get("/stats", stats)
web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _drain(stream: Any) -> None:
    """Read the server's output so that its pipe never fills (a full pipe would stall it)."""
    for _line in stream:
        pass


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100)[p - 1] if len(values) > 1 else values[0]


async def run(rate: int, seconds: int) -> dict[str, tuple[float, float]]:
    from tests.serve_process import start_serve

    env = {"NDOTO_ALLOW_PRIVATE_ADDRESSES": "true", "NDOTO_PUBLIC_REQUESTS_PER_MINUTE": "1000000",
           "NDOTO_NEW_CONTACTS_PER_MINUTE": "1000000", "NDOTO_PUBLIC_MESSAGES_PER_MINUTE": "100000"}
    with tempfile.TemporaryDirectory() as tmp:
        served = start_serve(Path(tmp) / "home", extra_env=env)
        threading.Thread(target=_drain, args=(served.process.stdout,), daemon=True).start()
        bot_proc = None
        try:
            base = f"{served.base_url}/api/v1/accounts/1"
            port = _free_port()
            async with aiohttp.ClientSession(headers={"api_access_token": served.token or ""}) as s:
                inbox = await (await s.post(f"{base}/inboxes", json={"name": "API", "channel": {"type": "api"}})).json()
                bot = await (await s.post(f"{base}/agent_bots", json={"name": "Echo", "outgoing_url": f"http://127.0.0.1:{port}/hook"})).json()
                await s.post(f"{base}/inboxes/{inbox['id']}/set_agent_bot", json={"agent_bot": bot["id"]})
                shown = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "ndoto_cli", "bots", "secret", "show", str(bot["id"]), "--json",
                    env={**os.environ, "NDOTO_HOME": str(Path(tmp) / "home")}, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                )
                secret = json.loads((await shown.communicate())[0])["secret"]
            bot_proc = await asyncio.create_subprocess_exec(sys.executable, "-c", BOT, str(port), base, bot["access_token"], secret,
                                                            stdin=subprocess.DEVNULL)
            public = f"{served.base_url}/public/api/v1/inboxes/{inbox['inbox_identifier']}"
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
                for _ in range(100):  # the bot is up when it answers
                    try:
                        async with s.get(f"http://127.0.0.1:{port}/stats") as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.1)
                paths = []
                for i in range(rate):
                    contact = await (await s.post(f"{public}/contacts", json={"name": f"Customer {i}"})).json()
                    conv = await (await s.post(f"{public}/contacts/{contact['source_id']}/conversations")).json()
                    paths.append(f"{public}/contacts/{contact['source_id']}/conversations/{conv['id']}/messages")
                sent: dict[str, float] = {}
                failed: list[str] = []

                async def customer(k: int) -> None:
                    content = f"flow-{k}"
                    sent[content] = time.time()
                    async with s.post(paths[k % rate], json={"content": content}) as resp:
                        await resp.read()
                        if resp.status != 200:
                            failed.append(f"{content}: {resp.status}")

                total = rate * seconds
                start = time.perf_counter()
                tasks = []
                for k in range(total):
                    delay = start + k / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    tasks.append(asyncio.create_task(customer(k)))
                await asyncio.gather(*tasks)
                achieved = total / (time.perf_counter() - start)
                if failed:
                    raise SystemExit(f"customers' messages refused: {failed[:5]}")
                records: dict[str, Any] = {}
                for _ in range(600):  # until every reply and its event are back (60 s at most)
                    async with s.get(f"http://127.0.0.1:{port}/stats") as resp:
                        records = await resp.json()
                    if sum(1 for c in sent if "echo" in records.get(c, {})) == total:
                        break
                    await asyncio.sleep(0.1)
        finally:
            if bot_proc is not None:
                bot_proc.terminate()
                await bot_proc.wait()
            served.stop()
    missing = [c for c in sent if not {"in", "stored", "echo"} <= set(records.get(c, {}))]
    refused = [c for c in sent if records.get(c, {}).get("status") not in (None, 200)]
    if missing or refused:
        raise SystemExit(f"lost: {len(missing)} of {total} flows incomplete ({missing[:3]}), {len(refused)} replies refused")
    flow, echo, webhook, store, think = [], [], [], [], []
    for content, t0 in sent.items():
        r = records[content]
        thought = r["start"] - r["in"]
        think.append(thought * 1000)
        webhook.append((r["in"] - t0) * 1000)
        store.append((r["stored"] - r["start"]) * 1000)
        flow.append((r["stored"] - t0 - thought) * 1000)
        echo.append((r["echo"] - t0 - thought) * 1000)
    print(f"{total} customer messages at {achieved:.0f}/s over {rate} conversations ({seconds} s); "
          f"every one answered, stored and its reply's event delivered")
    figures = {"customer POST -> webhook at the bot": webhook, "bot's reply POST -> 200 (stored)": store,
               "bot's think time (excluded)": think, FLOW: flow, "customer POST -> the reply's own event at the bot": echo}
    out = {}
    for label, values in figures.items():
        out[label] = (pct(values, 50), pct(values, 99))
        print(f"  {label}: p50 {out[label][0]:.1f} ms, p99 {out[label][1]:.1f} ms")
    return out


FLOW = "customer POST -> reply stored"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=100, help="customer messages a second, one conversation each")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3, help="runs, each on a fresh server; the medians are printed last")
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        print(f"run {n + 1} of {args.runs}:")
        runs.append(asyncio.run(run(args.rate, args.seconds)))
    print(f"medians of {args.runs} runs:")
    for label in runs[0]:
        p50, p99 = (statistics.median(r[label][i] for r in runs) for i in (0, 1))
        verdict = f" (ceiling p99 {CEILING_P99:.0f} ms: {'ok' if p99 < CEILING_P99 else 'MISSES'})" if label == FLOW else ""
        print(f"  {label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
