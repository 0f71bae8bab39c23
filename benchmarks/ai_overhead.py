"""What Ndoto adds around the model in an AI agent's answer, on a real ``ndoto serve``.

A local OpenAI-compatible model server (``tests/ai/fake_llm.py``, in this process) answers every
chat request after a fixed ``--delay`` (0.5 s). An AI agent bot answers from the example
knowledge base (``examples/shop-help``, the offline embedding model) with no batching wait
(``--batch-wait 0``). Customers ask the example questions (``examples/shop-help-questions.jsonl``)
on the public API, one new conversation each, ``--rate`` a second (5) on a fixed schedule.

For each conversation: from the customer's message being stored to the bot's answer being stored
(both stamped by the server), less the time the model server spent on that conversation's
requests (from each request's arrival to its answer being written). What is left is Ndoto's:
the dispatcher picking the event up, retrieval, the prompt, litellm, and storing the answer and
its events. Printed: p50 and p95 (target p95 under 100 ms, issue 18), and the part before the
first model request beside the part after the last answer. The first answers (the embedding
model loading, ``--warm`` of them) are not counted. Every conversation must get its answer.
Run: ``.venv/bin/python benchmarks/ai_overhead.py [--conversations N] [--rate N] [--delay S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CEILING_P95 = 100.0  # ms
ANSWER = "Here is what our help pages say."
TAG = re.compile(r"\(question (\d+)\)")


class TimedModel:
    """The fake model server, with each chat request's arrival and answer times by question."""

    def __init__(self, delay: float) -> None:
        from tests.ai.fake_llm import FakeLLM, Reply

        self.spans: dict[int, list[tuple[float, float]]] = {}
        model = FakeLLM(script=lambda request: Reply(content=ANSWER, delay=delay))
        answer = model._chat

        async def timed(request: Any) -> Any:
            arrived = time.time()
            body = await request.read()
            found = TAG.findall(body.decode("utf-8", "replace"))
            response = await answer(request)
            if found:
                self.spans.setdefault(int(found[-1]), []).append((arrived, time.time()))
            return response

        model._chat = timed  # type: ignore[method-assign]
        self.model = model


def _drain(stream: Any) -> None:
    for _line in stream:
        pass


def cli(home: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "ndoto_cli", *args], env={**os.environ, **env, "NDOTO_HOME": str(home)},
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False)
    if done.returncode:
        raise SystemExit(f"ndoto {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


async def run(conversations: int, rate: float, delay: float, warm: int) -> int:
    from tests.serve_process import start_serve

    timed = TimedModel(delay)
    await timed.model.start()
    questions = [json.loads(line)["question"] for line in (ROOT / "examples" / "shop-help-questions.jsonl").read_text().splitlines() if line.strip()]
    env = {"NDOTO_AI_MODEL": "openai/test-model", "NDOTO_AI_API_BASE": timed.model.base, "NDOTO_ALLOW_PRIVATE_ADDRESSES": "true",
           "NDOTO_PUBLIC_REQUESTS_PER_MINUTE": "1000000", "NDOTO_NEW_CONTACTS_PER_MINUTE": "1000000"}
    total = conversations + warm
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        served = start_serve(home, extra_env=env)
        threading.Thread(target=_drain, args=(served.process.stdout,), daemon=True).start()
        try:
            await asyncio.to_thread(cli, home, env, "inboxes", "create", "--name", "Web", "--channel", "api")
            await asyncio.to_thread(cli, home, env, "bots", "create", "--type", "ai", "--name", "Helper", "--batch-wait", "0")
            await asyncio.to_thread(cli, home, env, "kb", "add", "Helper", str(ROOT / "examples" / "shop-help"))
            await asyncio.to_thread(cli, home, env, "inbox", "assign", "Helper", "Web")
            async with aiohttp.ClientSession(headers={"api_access_token": served.token or ""}) as s:
                inbox = (await (await s.get(f"{served.base_url}/api/v1/accounts/1/inboxes")).json())["payload"][0]
            public = f"{served.base_url}/public/api/v1/inboxes/{inbox['inbox_identifier']}"
            conv_of: dict[int, int] = {}

            async with aiohttp.ClientSession() as s:
                async def customer(k: int) -> None:
                    contact = await (await s.post(f"{public}/contacts", json={"name": f"Customer {k}"})).json()
                    conv = await (await s.post(f"{public}/contacts/{contact['source_id']}/conversations")).json()
                    text = f"{questions[k % len(questions)]} (question {k})"
                    async with s.post(f"{public}/contacts/{contact['source_id']}/conversations/{conv['id']}/messages",
                                      json={"content": text}) as resp:
                        if resp.status != 200:
                            raise SystemExit(f"customer {k}: {resp.status} {await resp.text()}")
                    conv_of[k] = conv["id"]

                for k in range(warm):  # the embedding model loads on the first question
                    await customer(k)
                    await _answered(home, [conv_of[k]], limit=120)
                start = time.perf_counter()
                tasks = []
                for k in range(warm, total):
                    await asyncio.sleep(max(0.0, start + (k - warm) / rate - time.perf_counter()))
                    tasks.append(asyncio.create_task(customer(k)))
                await asyncio.gather(*tasks)
                await _answered(home, [conv_of[k] for k in range(total)], limit=120)
        finally:
            served.stop()
            await timed.model.stop()
        rows = _messages(home)
    overhead, before, after = [], [], []
    for k in range(warm, total):
        msgs = rows[conv_of[k]]
        asked = next(m for m in msgs if m["message_type"] == 0)
        answer = next(m for m in msgs if m["message_type"] == 1 and m["created_at"] >= asked["created_at"])
        if answer["content"] != ANSWER:
            raise SystemExit(f"question {k} was answered {answer['content']!r}, not with the model's answer")
        spans = timed.spans.get(k)
        if not spans:
            raise SystemExit(f"question {k} reached no model request")
        model = sum(end - begin for begin, end in spans)
        overhead.append((answer["created_at"] - asked["created_at"] - model) * 1000)
        before.append((spans[0][0] - asked["created_at"]) * 1000)
        after.append((answer["created_at"] - spans[-1][1]) * 1000)
    p95 = statistics.quantiles(overhead, n=20)[-1]
    print(f"{conversations} AI answers at {rate:g} new conversations/s, the model answering after {delay * 1000:.0f} ms "
          f"(every one answered; {warm} warm-up answers not counted)")
    print(f"  before the first model request (pick-up, retrieval, prompt): p50 {statistics.median(before):.1f} ms, "
          f"p95 {statistics.quantiles(before, n=20)[-1]:.1f} ms")
    print(f"  after the model's last answer (litellm, storing the answer and its events): p50 {statistics.median(after):.1f} ms, "
          f"p95 {statistics.quantiles(after, n=20)[-1]:.1f} ms")
    print(f"  what Ndoto adds around the model: p50 {statistics.median(overhead):.1f} ms, p95 {p95:.1f} ms "
          f"(ceiling p95 {CEILING_P95:.0f} ms: {'ok' if p95 < CEILING_P95 else 'MISSES'})")
    return 0


async def _answered(home: Path, conversation_ids: list[int], *, limit: float) -> None:
    """Until each conversation (by display id) holds an outgoing message."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        rows = _messages(home)
        if all(any(m["message_type"] == 1 for m in rows.get(c, [])) for c in conversation_ids):
            return
        await asyncio.sleep(0.2)
    raise SystemExit("some questions got no answer in time")


def _messages(home: Path) -> dict[int, list[dict[str, Any]]]:
    """Public messages by conversation display id, oldest first (read-only, beside the server)."""
    with sqlite3.connect(f"file:{home / 'ndoto.db'}?mode=ro", uri=True, timeout=30) as conn:
        found = conn.execute(
            "SELECT c.display_id, m.message_type, m.created_at, m.content FROM messages m JOIN conversations c ON c.id = m.conversation_id"
            " WHERE m.private = 0 AND m.message_type IN (0, 1) ORDER BY m.id"
        ).fetchall()
    out: dict[int, list[dict[str, Any]]] = {}
    for display_id, kind, at, content in found:
        out.setdefault(display_id, []).append({"message_type": kind, "created_at": at, "content": content})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="new conversations a second")
    parser.add_argument("--delay", type=float, default=0.5, help="the model server's fixed answer time, in seconds")
    parser.add_argument("--warm", type=int, default=3)
    args = parser.parse_args()
    return asyncio.run(run(args.conversations, args.rate, args.delay, args.warm))


if __name__ == "__main__":
    sys.exit(main())
