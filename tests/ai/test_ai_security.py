"""An AI bot's api_base cannot carry the server's model key away, nor reach a private address.

Everything runs on 127.0.0.1: local OpenAI-compatible servers stand in for a model endpoint, and
names that would resolve elsewhere are answered by a stubbed resolver, so the refusal is checked
before any connection is made.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ndoto_cli.core.db import Database
from ndoto_cli.core.errors import Invalid
from ndoto_cli.core.models import Inbox, Message
from ndoto_cli.core.services import accounts, bots, customers, inboxes
from ndoto_cli.core.settings import Settings
from ndoto_cli.dispatch.ai import pinned
from ndoto_cli.dispatch.worker import Dispatcher
from tests.ai.fake_llm import FakeLLM, Reply

SERVER_KEY = "sk-server-key-that-must-stay-home"


@pytest.fixture
def server_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    monkeypatch.setenv("OPENAI_ORGANIZATION", "org-server")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-server")


@pytest.mark.parametrize(
    "base",
    ["http://127.0.0.1:8000/v1", "http://localhost:8000/v1", "http://[::1]:8000/v1", "https://169.254.169.254/latest",
     "https://10.0.0.5/v1", "https://[::ffff:127.0.0.1]/v1", "https://[::127.0.0.1]/v1", "https://[64:ff9b::7f00:1]/v1",
     "https://[fd00::1]/v1", "https://100.64.0.1/v1"],
)
async def test_a_private_api_base_is_refused_at_creation(ndoto_home: Path, base: str) -> None:
    db = await Database(Settings(home=ndoto_home)).open()
    try:
        await db.write(lambda s: accounts.bootstrap(s))
        with pytest.raises(Invalid) as refused:
            await db.write(lambda s: bots.create_bot(s, account_id=1, name="Thief", bot_type="ai", api_base=base))
        assert refused.value.field == "api_base" and "private address" in refused.value.message
    finally:
        await db.close()
    allowed = await Database(Settings(home=ndoto_home, allow_private_addresses=True)).open()
    try:
        bot, _ = await allowed.write(lambda s: bots.create_bot(s, account_id=1, name="Local", bot_type="ai", api_base=base))
        assert bot.api_base == base
    finally:
        await allowed.close()


async def _world(settings: Settings, **bot: Any) -> tuple[Database, int, int]:
    db = await Database(settings).open()
    await db.write(lambda s: accounts.bootstrap(s))
    inbox = await db.write(lambda s: inboxes.create_inbox(s, account_id=1, name="Web", channel="web_widget"))
    made, _ = await db.write(lambda s: bots.create_bot(s, account_id=1, name="Helper", bot_type="ai", **bot))
    await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=1, inbox_id=inbox.id, bot_id=made.id))
    return db, inbox.id, made.id


async def _ask(db: Database, inbox_id: int, text: str) -> int:
    async def go(s: Any) -> Any:
        return await customers.say(s, inbox=await s.get(Inbox, inbox_id), contact_name="Jane", content=text)

    return (await db.write(go)).bundle.conversation.id


async def _bot_messages(db: Database, conversation_id: int, count: int, timeout: float = 15.0) -> list[Message]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        async with db.read() as s:
            rows = list((await s.execute(
                select(Message).where(Message.conversation_id == conversation_id, Message.sender_type == "agent_bot").order_by(Message.id)
            )).scalars())
        if len(rows) >= count:
            return rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} bot messages")


async def test_a_bot_with_its_own_api_base_sends_its_own_key_never_the_servers(
    ndoto_home: Path, server_keys: None
) -> None:
    own = await FakeLLM().start()
    own.script = lambda request: Reply("From the bot's own model.")
    settings = Settings(home=ndoto_home, allow_private_addresses=True, delivery_retry_schedule=[0.2])
    base = own.base.replace("127.0.0.1", "localhost")  # a name: resolved, checked and pinned by Ndoto
    db, inbox_id, _bot = await _world(settings, api_base=base, api_key="sk-bots-own-key", model="my-model")
    dispatcher = Dispatcher(db, settings)
    await dispatcher.start()
    try:
        conv = await _ask(db, inbox_id, "Hello?")
        (reply,) = await _bot_messages(db, conv, 1)
        assert reply.content == "From the bot's own model."
        (headers,) = own.headers
        assert headers["authorization"] == "Bearer sk-bots-own-key"
        assert SERVER_KEY not in str(headers) and "openai-organization" not in headers and "openai-project" not in headers
        assert own.requests[0]["model"] == "my-model"
        backend = dispatcher._ai.clients.backends[0]
        assert backend.connections and backend.connections[0][0] == "localhost" and backend.connections[0][2] in ("127.0.0.1", "::1")
    finally:
        await dispatcher.stop()
        await db.close()
        await own.stop()


async def test_a_bot_without_a_key_sends_no_credential(ndoto_home: Path, server_keys: None) -> None:
    own = await FakeLLM().start()
    settings = Settings(home=ndoto_home, allow_private_addresses=True, delivery_retry_schedule=[0.2])
    db, inbox_id, _bot = await _world(settings, api_base=own.base, model="m")
    dispatcher = Dispatcher(db, settings)
    await dispatcher.start()
    try:
        await _bot_messages(db, await _ask(db, inbox_id, "Hi"), 1)
        (headers,) = own.headers
        assert "authorization" not in headers and SERVER_KEY not in str(headers)
    finally:
        await dispatcher.stop()
        await db.close()
        await own.stop()


@pytest.mark.parametrize("host", ["llm.rebinding.test", "metadata.test"])
async def test_a_name_that_resolves_to_a_private_address_is_refused_before_connecting(
    ndoto_home: Path, server_keys: None, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    resolved: list[str] = []

    async def stub(self: Any, host: str, port: int) -> list[str]:
        resolved.append(host)
        return {"llm.rebinding.test": ["93.184.216.34", "127.0.0.1"], "metadata.test": ["169.254.169.254"]}[host]

    connected: list[Any] = []

    async def never(*args: Any, **kwargs: Any) -> Any:
        connected.append(args)
        raise AssertionError("no connection may be made")

    monkeypatch.setattr(pinned.GuardedBackend, "_resolve", stub)
    monkeypatch.setattr(pinned.httpcore.AnyIOBackend, "connect_tcp", never)
    settings = Settings(home=ndoto_home, delivery_retry_schedule=[0.2], handoff_after=0)
    db, inbox_id, _bot_id = await _world(settings, api_base=f"https://{host}/v1", api_key="sk-bot", model="m")
    dispatcher = Dispatcher(db, settings)
    await dispatcher.start()
    try:
        conv = await _ask(db, inbox_id, "Hello?")
        notes = [m for m in await _bot_messages(db, conv, 2) if m.private]
        assert notes and "private address" in notes[0].content and "sk-bot" not in notes[0].content
    finally:
        await dispatcher.stop()
        await db.close()
    assert resolved and not connected


async def test_stored_errors_never_hold_a_key_echoed_by_the_model_server(ndoto_home: Path, server_keys: None) -> None:
    own = await FakeLLM().start()
    own.script = lambda request: Reply(status=400, echo_headers=True)
    settings = Settings(home=ndoto_home, allow_private_addresses=True, delivery_retry_schedule=[0.2])
    db, inbox_id, _bot = await _world(settings, api_base=own.base, api_key="sk-bots-own-key", model="m")
    dispatcher = Dispatcher(db, settings)
    await dispatcher.start()
    try:
        msgs = await _bot_messages(db, await _ask(db, inbox_id, "Hi"), 2)
        note = next(m for m in msgs if m.private)
        assert "model_error" in note.content and "sk-bots-own-key" not in note.content and SERVER_KEY not in note.content
        async with db.read() as s:
            from ndoto_cli.core.models import AiReply

            (row,) = (await s.execute(select(AiReply))).scalars().all()
        assert "sk-bots-own-key" not in (row.reason or "")
    finally:
        await dispatcher.stop()
        await db.close()
        await own.stop()


async def test_a_local_default_provider_needs_an_api_base(ndoto_home: Path) -> None:
    settings = Settings(home=ndoto_home, delivery_retry_schedule=[0.2])
    db, inbox_id, _bot = await _world(settings, model="ollama/llama3")
    dispatcher = Dispatcher(db, settings)
    await dispatcher.start()
    try:
        msgs = await _bot_messages(db, await _ask(db, inbox_id, "Hi"), 2)
        note = next(m for m in msgs if m.private)
        assert "calls a local server by default" in note.content
    finally:
        await dispatcher.stop()
        await db.close()


async def test_embeddings_use_the_servers_endpoint_never_a_bots(ndoto_home: Path, server_keys: None) -> None:
    server = await FakeLLM(embedding=lambda text: [1.0, 0.0]).start()
    own = await FakeLLM(embedding=lambda text: [0.0, 1.0]).start()
    settings = Settings(
        home=ndoto_home, allow_private_addresses=True, embedding_model="openai/embed", ai_api_base=server.base,
        delivery_retry_schedule=[0.2],
    )
    db, inbox_id, _bot = await _world(settings, api_base=own.base, api_key="sk-bot", model="m")
    dispatcher = Dispatcher(db, settings)
    await dispatcher.start()
    try:
        await _bot_messages(db, await _ask(db, inbox_id, "Hi"), 1)
        assert len(server.headers) == 1  # the question's embedding, at the server's endpoint
        assert own.requests and all("input" not in r for r in own.requests)  # the bot's endpoint got only the chat
    finally:
        await dispatcher.stop()
        await db.close()
        await server.stop()
        await own.stop()
