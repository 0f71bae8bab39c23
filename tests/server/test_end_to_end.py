"""The product document's Flask bot, unchanged but for URL and token, against a real ``ndoto serve``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.serve_process import start_serve

HERE = Path(__file__).resolve().parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_flask_example_bot_replies_through_ndoto(tmp_path: Path) -> None:
    served = start_serve(tmp_path / "home", extra_env={"NDOTO_ALLOW_PRIVATE_ADDRESSES": "true"})
    bot_proc = None
    try:
        api = httpx.Client(base_url=served.base_url, headers={"api_access_token": served.token or ""}, timeout=10)
        inbox = api.post("/api/v1/accounts/1/inboxes", json={"name": "Support API", "channel": {"type": "api"}}).json()
        port = _free_port()
        bot = api.post(
            "/api/v1/accounts/1/agent_bots",
            json={"name": "Flask bot", "outgoing_url": f"http://127.0.0.1:{port}/webhook"},
        ).json()
        assert api.post(f"/api/v1/accounts/1/inboxes/{inbox['id']}/set_agent_bot", json={"agent_bot": bot["id"]}).status_code == 200
        env = {**os.environ, "NDOTO_BASE_URL": served.base_url, "BOT_ACCESS_TOKEN": bot["access_token"], "BOT_PORT": str(port)}
        bot_proc = subprocess.Popen([sys.executable, str(HERE / "flask_bot.py")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        # A customer writes through the public API.
        public = httpx.Client(base_url=f"{served.base_url}/public/api/v1/inboxes/{inbox['inbox_identifier']}", timeout=10)
        contact = public.post("/contacts", json={"name": "Jane Doe"}).json()
        conv = public.post(f"/contacts/{contact['source_id']}/conversations").json()
        assert conv["status"] == "pending"
        public.post(f"/contacts/{contact['source_id']}/conversations/{conv['id']}/messages", json={"content": "Where is my order?"})
        reply = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and reply is None:
            msgs = public.get(f"/contacts/{contact['source_id']}/conversations/{conv['id']}/messages").json()
            reply = next((m for m in msgs if m["message_type"] == 1), None)
            time.sleep(0.2)
        assert reply is not None, "the bot's reply never appeared"
        assert reply["content"] == 'Thanks for reaching out! You said: "Where is my order?". Our team will get back to you shortly.'
        assert reply["sender"]["type"] == "agent_bot"
    finally:
        if bot_proc is not None:
            bot_proc.terminate()
            bot_proc.wait(timeout=10)
        assert served.stop() == 0
