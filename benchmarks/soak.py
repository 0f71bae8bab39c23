"""The soak: ``--minutes`` (10) of mixed load on one ``ndoto serve``, then an exact reconciliation.

Not part of CI or of ``make bench`` (``make soak`` runs it). On a real ``ndoto serve`` (SQLite,
dispatcher on), with everything on 127.0.0.1:

* customers write on the public API at ``--rate`` messages a second (20) into four inboxes,
  each with its own webhook bot, served by one bot process: a good bot that answers every
  customer message through the REST API with its token; a flaky bot that answers 500 to 30% of
  deliveries; a slow bot that takes 5 s for each; and a dead bot (nothing listens on its port);
* an administrator changes statuses (pending gives the conversation back to its bot, open hands
  it to humans, resolved) and assignments on the REST API, about once a second;
* another process runs CLI writes (``ndoto say``, ``ndoto conversations resolve``) one after
  another against the same database file, the whole time;
* halfway, ``ndoto serve`` is stopped (Ctrl-C) and started again on the same port.

Retries are made short (``NDOTO_DELIVERY_RETRY_SCHEDULE=0.5,1,1,1,2``, 14 attempts: a dead
bot's delivery fails after ~20 s, the flaky bot's chance of losing one is 0.3^14) and handoff
quick (10 s), so that everything settles within the drain that follows the load. At the end it
prints each check of the reconciliation and exits 1 if any fails:

* none lost: every message the API answered 200 (customers' and the good bot's replies) is in
  the database; every delivery recorded for a live bot was delivered and its bot answered 2xx
  to that ``webhook-id``; every 2xx a bot gave is a delivery recorded delivered; the dead bot's
  deliveries are all failed, each with its reason;
* duplicates only across the restart: a ``webhook-id`` answered 2xx more than once was sent
  once by each server process;
* no "database is locked" anywhere: the server's output, the CLI's output, the API's answers
  and the deliveries' recorded errors; no 5xx from the API while it was up;
* memory flat: the server's resident size at minute ``minutes - 1`` within 10% of minute 2
  (the second process's against the first's: the restart is halfway).

Run: ``.venv/bin/python benchmarks/soak.py [--minutes N] [--rate N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RETRY_SCHEDULE = "0.5,1,1,1,2"
ATTEMPTS = 14
HANDOFF_AFTER = 10
# Shares of the customers' messages per inbox, and conversations in each: the slow bot takes 5 s
# a delivery and a dead bot's take ~20 s to fail, one at a time per conversation, so their
# inboxes get few messages over several conversations (their queues stay bounded).
INBOXES = {"good": (0.70, 40), "flaky": (0.26, 20), "slow": (0.03, 12), "dead": (0.01, 10)}
LOCKED = re.compile(r"database is locked", re.IGNORECASE)

BOTS = r"""
import asyncio, json, random, sys, time
import aiohttp
from aiohttp import web

port, api, token = int(sys.argv[1]), sys.argv[2], sys.argv[3]
receipts = []  # [bot, webhook-id, event, answered, time]
replies = {"ok": [], "refused": [], "errors": []}
client = None

async def reply(conversation, content):
    for attempt in range(10):  # a real bot tries again while the server restarts
        try:
            async with client.post(f"{api}/conversations/{conversation}/messages",
                                   json={"content": "re: " + content, "message_type": "outgoing"},
                                   headers={"api_access_token": token}) as resp:
                body = await resp.text()
                if resp.status == 200:
                    replies["ok"].append(json.loads(body)["id"])
                    return
                if resp.status < 500:  # handed to humans meanwhile: the bot may not answer
                    replies["refused"].append([resp.status, body[:200]])
                    return
                replies["errors"].append([resp.status, body[:200]])
        except aiohttp.ClientError as exc:
            replies["errors"].append([0, repr(exc)[:200]])
        await asyncio.sleep(1)

def handler(bot):
    async def hook(request):
        body = await request.read()
        wid = request.headers.get("webhook-id", "")
        event = json.loads(body)
        answered = 200
        if bot == "flaky" and random.random() < 0.3:
            answered = 500
        elif bot == "slow":
            await asyncio.sleep(5)
        receipts.append([bot, wid, event.get("event"), answered, time.time()])
        if bot == "good" and answered == 200 and event.get("event") == "message_created" \
                and event.get("message_type") == "incoming":
            asyncio.get_running_loop().create_task(reply(event["conversation"]["id"], event.get("content") or ""))
        return web.Response(status=answered, text="ok" if answered == 200 else "flaky")
    return hook

async def state(request):
    return web.json_response({"receipts": receipts, "replies": replies})

async def start(app):
    global client
    client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

async def stop(app):
    await client.close()

app = web.Application()
app.on_startup.append(start)
app.on_cleanup.append(stop)
for name in ("good", "flaky", "slow"):
    app.router.add_post(f"/{name}", handler(name))
app.router.add_get("/state", state)
web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kb(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


class Server:
    """``ndoto serve`` on a fixed port, its output read the whole time (and kept)."""

    def __init__(self, home: Path, port: int, env: dict[str, str]) -> None:
        self.home, self.port, self.env = home, port, env
        self.output: list[str] = []
        self.served: Any = None
        self.token: str | None = None

    def start(self) -> None:
        from tests.serve_process import start_serve

        self.served = start_serve(self.home, extra_env=self.env, port=self.port)
        self.output.extend(self.served.output)
        self.token = self.token or self.served.token
        threading.Thread(target=self._read, args=(self.served.process.stdout,), daemon=True).start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.output.append(line)

    def stop(self) -> int:
        return self.served.stop()

    @property
    def pid(self) -> int:
        return int(self.served.process.pid)


class Load:
    """The customers, the administrator and what they were answered."""

    def __init__(self, base: str, admin_token: str) -> None:
        self.base = base
        self.admin = {"api_access_token": admin_token}
        self.down = False  # the server is restarting: refusals are expected, not counted as errors
        self.acknowledged: list[int] = []  # message ids answered 200
        self.answers: Counter[str] = Counter()
        self.errors: list[str] = []  # 5xx, or connection errors while the server was up
        self.refused_while_down = 0

    async def call(self, s: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
        try:
            async with s.request(method, url, **kwargs) as resp:
                body = await resp.text()
                self.answers[f"{method} {resp.status}"] += 1
                if resp.status >= 500 or LOCKED.search(body):
                    self.errors.append(f"{method} {url}: {resp.status} {body[:200]}")
                return json.loads(body) if resp.status == 200 and body else None
        except (TimeoutError, aiohttp.ClientError) as exc:
            if self.down:
                self.refused_while_down += 1
            else:
                self.errors.append(f"{method} {url}: {exc!r}")
            return None


def cli_writes(home: Path, stop: threading.Event, out: dict[str, Any]) -> None:
    """CLI writes from another process, one after another until told to stop."""
    env = {**os.environ, "NDOTO_HOME": str(home)}
    k = 0
    while not stop.is_set():
        k += 1
        if k % 3:
            cmd = ["say", "--inbox", "Good", "--contact", f"CLI customer {k % 5}", f"from the CLI, {k}", "--json"]
        else:
            cmd = ["conversations", "resolve", str(1 + k % 40), "--json"]
        done = subprocess.run([sys.executable, "-m", "ndoto_cli", *cmd], env=env, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120, check=False)
        out["runs"] += 1
        text = done.stdout + done.stderr
        if LOCKED.search(text):
            out["locked"].append(text[-300:])
        if done.returncode != 0:
            out["failed"].append(f"ndoto {' '.join(cmd)}: {text.strip()[-200:]}")
        elif cmd[0] == "say":
            out["acknowledged"].append(int(json.loads(done.stdout)["id"]))


async def soak(minutes: float, rate: float) -> int:
    total = minutes * 60
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        port, bots_port, dead_port = _free_port(), _free_port(), _free_port()
        env = {"NDOTO_ALLOW_PRIVATE_ADDRESSES": "true", "NDOTO_DELIVERY_RETRY_SCHEDULE": RETRY_SCHEDULE,
               "NDOTO_DELIVERY_MAX_ATTEMPTS": str(ATTEMPTS), "NDOTO_HANDOFF_AFTER": str(HANDOFF_AFTER),
               "NDOTO_PUBLIC_REQUESTS_PER_MINUTE": "1000000", "NDOTO_NEW_CONTACTS_PER_MINUTE": "1000000",
               "NDOTO_PUBLIC_MESSAGES_PER_MINUTE": "100000", "NDOTO_CONVERSATION_MESSAGES_PER_MINUTE": "100000"}
        server = Server(home, port, env)
        server.start()
        base = f"http://127.0.0.1:{port}"
        api = f"{base}/api/v1/accounts/1"
        load = Load(base, server.token or "")
        bots_proc = None
        cli = {"runs": 0, "failed": [], "locked": [], "acknowledged": []}
        stop_cli = threading.Event()
        rss: list[tuple[float, int, int]] = []
        restart: dict[str, float] = {}
        try:
            async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=30)) as s:
                bot_ids, inboxes, convs = {}, {}, {}
                for name in INBOXES:
                    url = f"http://127.0.0.1:{dead_port if name == 'dead' else bots_port}/{name}"
                    bot = await load.call(s, "POST", f"{api}/agent_bots", json={"name": name.title(), "outgoing_url": url},
                                          headers=load.admin)
                    inbox = await load.call(s, "POST", f"{api}/inboxes", json={"name": name.title(), "channel": {"type": "api"}},
                                            headers=load.admin)
                    await load.call(s, "POST", f"{api}/inboxes/{inbox['id']}/set_agent_bot", json={"agent_bot": bot["id"]},
                                    headers=load.admin)
                    bot_ids[name], inboxes[name] = bot, inbox
                bots_proc = await asyncio.create_subprocess_exec(
                    sys.executable, "-c", BOTS, str(bots_port), api, bot_ids["good"]["access_token"], stdin=subprocess.DEVNULL)
                for _ in range(100):
                    try:
                        async with s.get(f"http://127.0.0.1:{bots_port}/state") as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.1)
                for name, (_share, count) in INBOXES.items():
                    public = f"{base}/public/api/v1/inboxes/{inboxes[name]['inbox_identifier']}"
                    convs[name] = []
                    for i in range(count):
                        contact = await load.call(s, "POST", f"{public}/contacts", json={"name": f"{name} customer {i}"})
                        conv = await load.call(s, "POST", f"{public}/contacts/{contact['source_id']}/conversations")
                        convs[name].append((f"{public}/contacts/{contact['source_id']}/conversations/{conv['id']}/messages",
                                            conv["id"]))
                print(f"soak: {minutes:g} min, {rate:g} customer messages/s, server on {base}, bots on :{bots_port}, "
                      f"dead bot on :{dead_port}", flush=True)
                cli_thread = threading.Thread(target=cli_writes, args=(home, stop_cli, cli), daemon=True)
                cli_thread.start()
                start = time.monotonic()
                tasks: set[asyncio.Task[Any]] = set()

                def spawn(coro: Any) -> None:
                    task = asyncio.create_task(coro)
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

                async def customer(k: int) -> None:
                    name = random.choices(list(INBOXES), weights=[v[0] for v in INBOXES.values()])[0]
                    path, _conv = random.choice(convs[name])
                    answer = await load.call(s, "POST", path, json={"content": f"customer message {k}"})
                    if answer is not None:
                        load.acknowledged.append(int(answer["id"]))

                async def admin() -> None:
                    name = random.choice(["good", "good", "flaky"])
                    _path, conv = random.choice(convs[name])
                    action = random.choices(["pending", "open", "resolved", "assign", "unassign"], weights=[40, 15, 15, 15, 15])[0]
                    if action in ("pending", "open", "resolved"):
                        await load.call(s, "POST", f"{api}/conversations/{conv}/toggle_status", json={"status": action},
                                        headers=load.admin)
                    else:
                        await load.call(s, "POST", f"{api}/conversations/{conv}/assignments",
                                        json={"assignee_id": 1 if action == "assign" else None}, headers=load.admin)

                async def restart_server(elapsed: float) -> None:
                    """Ctrl-C, then the same command again; the load goes on meanwhile."""
                    load.down = True
                    restart["down"] = time.time()
                    code = await asyncio.to_thread(server.stop)
                    restart["stopped"] = time.time()
                    await asyncio.to_thread(server.start)
                    restart["up"] = time.time()
                    load.down = False
                    print(f"  restarted at {elapsed:.0f} s (exit {code}; stopping took {restart['stopped'] - restart['down']:.1f} s, "
                          f"down {restart['up'] - restart['down']:.1f} s)", flush=True)

                k = 0
                next_sample = 0.0
                restarting: asyncio.Task[None] | None = None
                while (elapsed := time.monotonic() - start) < total:
                    if elapsed >= next_sample:
                        if not load.down and (kb := _rss_kb(server.pid)) is not None:
                            rss.append((elapsed, server.pid, kb))
                        next_sample += 5
                    if restarting is None and elapsed >= total / 2:
                        restarting = asyncio.create_task(restart_server(elapsed))
                    k += 1
                    spawn(customer(k))
                    if k % max(1, int(rate)) == 0:
                        spawn(admin())
                    await asyncio.sleep(max(0.0, start + k / rate - time.monotonic()))
                stop_cli.set()
                if restarting is not None:
                    await restarting
                await asyncio.gather(*tasks)
                await asyncio.to_thread(cli_thread.join, 180)
                print(f"  load done: {k} customer messages sent; draining the deliveries", flush=True)
                drained = await drain(home, limit=300)
                async with s.get(f"http://127.0.0.1:{bots_port}/state") as resp:
                    bots_state = await resp.json()
        finally:
            stop_cli.set()
            if bots_proc is not None:
                bots_proc.terminate()
                await bots_proc.wait()
            server.stop()
        return reconcile(home, load, cli, bots_state, server.output, rss, restart, drained, minutes)


async def drain(home: Path, *, limit: float) -> float:
    """Seconds until no delivery is pending or in flight (``limit`` at most)."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        with sqlite3.connect(f"file:{home / 'ndoto.db'}?mode=ro", uri=True, timeout=30) as conn:
            left = conn.execute("SELECT count(*) FROM deliveries WHERE status IN ('pending', 'delivering')").fetchone()[0]
        if not left:
            return time.monotonic() - start
        await asyncio.sleep(1)
    return -1.0


def reconcile(home: Path, load: Load, cli: dict[str, Any], bots_state: dict[str, Any], output: list[str],
              rss: list[tuple[float, int, int]], restart: dict[str, float], drained: float, minutes: float) -> int:
    checks: list[tuple[bool, str]] = []

    def check(ok: bool, text: str) -> None:
        checks.append((ok, text))

    conn = sqlite3.connect(f"file:{home / 'ndoto.db'}?mode=ro", uri=True)
    stored = {row[0] for row in conn.execute("SELECT id FROM messages")}
    names = dict(conn.execute("SELECT id, lower(name) FROM agent_bots"))
    deliveries = conn.execute("SELECT agent_bot_id, webhook_id, status, last_error FROM deliveries").fetchall()
    events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    by_bot: dict[str, Counter[str]] = defaultdict(Counter)
    recorded: dict[str, set[str]] = defaultdict(set)
    for bot_id, wid, status, error in deliveries:
        name = names.get(bot_id, str(bot_id))
        by_bot[name][status] += 1
        if status == "delivered":
            recorded[name].add(wid)
        if error and LOCKED.search(error):
            check(False, f"a delivery of {name} recorded 'database is locked'")
    check(drained >= 0, f"drained: no delivery pending or in flight {drained:.0f} s after the load" if drained >= 0
          else "drained: deliveries still pending 300 s after the load")

    answered = set(load.acknowledged) | set(cli["acknowledged"]) | set(bots_state["replies"]["ok"])
    lost = answered - stored
    check(not lost, f"none lost: {len(answered):,} messages answered 200 (customers {len(load.acknowledged):,}, "
                    f"CLI {len(cli['acknowledged']):,}, bot replies {len(bots_state['replies']['ok']):,}), "
                    f"{len(lost)} missing from the database")

    received: dict[str, Counter[str]] = defaultdict(Counter)
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    for bot, wid, _event, status, at in bots_state["receipts"]:
        if 200 <= status < 300:
            received[bot][wid] += 1
            times[(bot, wid)].append(at)
    for name in ("good", "flaky", "slow"):
        states = by_bot[name]
        undelivered = sum(n for st, n in states.items() if st != "delivered")
        got = set(received[name])
        check(undelivered == 0 and recorded[name] == got,
              f"{name} bot: {states['delivered']:,} deliveries recorded delivered, {undelivered} not; "
              f"{len(got):,} webhook-ids answered 2xx; {len(recorded[name] - got)} recorded but not received, "
              f"{len(got - recorded[name])} received but not recorded")
    dead = by_bot["dead"]
    reasons = conn.execute(
        "SELECT count(*) FROM deliveries d JOIN agent_bots b ON b.id = d.agent_bot_id"
        " WHERE lower(b.name) = 'dead' AND (d.status != 'failed' OR d.last_error IS NULL OR d.last_error = '')"
    ).fetchone()[0]
    sample = conn.execute(
        "SELECT d.last_error FROM deliveries d JOIN agent_bots b ON b.id = d.agent_bot_id WHERE lower(b.name) = 'dead' LIMIT 1"
    ).fetchone()
    check(reasons == 0 and dead["failed"] > 0,
          f"dead bot: {dead['failed']:,} deliveries failed, each with its reason (e.g. {sample[0] if sample else '-'!r}); "
          f"{reasons} without")

    cross, bad = 0, []
    for (bot, wid), ats in times.items():
        if len(ats) > 1:
            before = sum(1 for t in ats if t < restart.get("up", 0))
            after = len(ats) - before
            if before == 1 and after == 1 and min(ats) >= restart["down"] - 30:
                cross += 1
            else:
                bad.append((bot, wid, len(ats)))
    check(not bad, f"duplicates: {cross} webhook-ids answered twice, once by each server (across the restart); "
                   f"{len(bad)} otherwise {bad[:3]}")

    locked = [line for line in output if LOCKED.search(line)] + cli["locked"]
    check(not locked, f"'database is locked': {len(locked)} in the server's and the CLI's output "
                      f"({len(output):,} server lines, {cli['runs']} CLI runs)")
    check(not load.errors, f"API: {sum(load.answers.values()):,} calls answered {dict(load.answers)}; "
                           f"{len(load.errors)} errors while up {load.errors[:3]}; {load.refused_while_down} refused while restarting")
    check(not cli["failed"], f"CLI: {cli['runs']} writes, {len(cli['failed'])} failed {cli['failed'][:2]}")
    replies = bots_state["replies"]
    check(not replies["errors"] or all(code == 0 for code, _ in replies["errors"]),
          f"good bot: {len(replies['ok']):,} replies stored, {len(replies['refused'])} refused (handed to humans "
          f"meanwhile), {len(replies['errors'])} failed tries {replies['errors'][:2]}")

    def at_minute(m: float) -> tuple[float, int, int] | None:
        near = [r for r in rss if abs(r[0] - m * 60) <= 5]
        return near[0] if near else None

    early, late = at_minute(2), at_minute(minutes - 1)
    if early and late:
        growth = late[2] / early[2] - 1
        check(growth <= 0.10, f"memory: server RSS at minute 2 {early[2] / 1024:.0f} MB (pid {early[1]}), at minute "
                              f"{minutes - 1:g} {late[2] / 1024:.0f} MB (pid {late[1]}): {growth:+.0%} (ceiling +10%)")
        after = at_minute(minutes / 2 + 1)  # the second process, a minute after its start
        if after and after[1] == late[1]:
            print(f"memory of the second process alone: minute {minutes / 2 + 1:g} {after[2] / 1024:.0f} MB, "
                  f"minute {minutes - 1:g} {late[2] / 1024:.0f} MB ({late[2] / after[2] - 1:+.0%})")
    else:
        check(minutes < 3, "memory: too short a run to compare minute 2 with the last minute")
    print(f"reconciliation ({events:,} events; deliveries by bot: "
          + ", ".join(f"{name} {dict(states)}" for name, states in sorted(by_bot.items())) + "):")
    for ok, text in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {text}")
    return 0 if all(ok for ok, _ in checks) else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--rate", type=float, default=20, help="customer messages a second, in all")
    args = parser.parse_args()
    return asyncio.run(soak(args.minutes, args.rate))


if __name__ == "__main__":
    sys.exit(main())
