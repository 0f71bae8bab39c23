"""AI fixtures: a local OpenAI-compatible model server, an AI bot with the example knowledge base,
and a running dispatcher, all on a real SQLite file."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ndoto_cli.core.db import Database
from ndoto_cli.core.models import Inbox
from ndoto_cli.core.services import accounts, bots, customers, inboxes
from ndoto_cli.core.settings import Settings
from ndoto_cli.dispatch.worker import Dispatcher
from tests.ai.fake_llm import FakeLLM, Reply
from tests.background import served
from tests.commands.conftest import Cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
async def llm_server() -> AsyncIterator[FakeLLM]:
    server = await FakeLLM().start()
    yield server
    await server.stop()


@dataclass
class AiWorld:
    db: Database
    settings: Settings
    account_id: int
    inbox_id: int
    bot_id: int
    agent_id: int
    llm: FakeLLM


@contextlib.asynccontextmanager
async def ai_world(home: Path, llm: FakeLLM, **settings: Any) -> AsyncIterator[AiWorld]:
    """An account with an AI bot on a web inbox, the example knowledge base and a running
    dispatcher; ``settings`` override the server's (the address guard's, for tools on 127.0.0.1)."""
    from ndoto_cli.core.ai import store

    config = Settings(home=home, ai_model="openai/test-model", ai_api_base=llm.base, delivery_retry_schedule=[0.2], **settings)
    db = await Database(config).open()
    boot = await db.write(lambda s: accounts.bootstrap(s, account_name="Acme Shop"))
    acc = boot.account.id
    agent, _ = await db.write(lambda s: accounts.create_user(s, account_id=acc, name="Ann", email="ann@acme.test"))
    inbox = await db.write(lambda s: inboxes.create_inbox(s, account_id=acc, name="Web", channel="web_widget"))
    bot, _ = await db.write(
        lambda s: bots.create_bot(
            s, account_id=acc, name="Helper", bot_type="ai", system_prompt="You are Acme Shop's helpful assistant.",
            temperature=0.3, max_exchanges=3, handoff_keywords=["speak to agent", "human please"],
            handoff_message="Let me bring in a colleague.", batch_wait=0,  # answers at once; batching has its tests
        )
    )
    await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=acc, inbox_id=inbox.id, bot_id=bot.id))
    for path in sorted((EXAMPLES / "shop-help").iterdir()):
        await db.write(lambda s, p=path: store.add_document(s, bot_id=bot.id, path=p))
    dispatcher = Dispatcher(db, config)
    await dispatcher.start()
    try:
        yield AiWorld(db, config, acc, inbox.id, bot.id, agent.id, llm)
    finally:
        await dispatcher.stop()
        await db.close()


@pytest.fixture
async def ai(ndoto_home: Path, llm_server: FakeLLM) -> AsyncIterator[AiWorld]:
    async with ai_world(ndoto_home, llm_server) as world:
        yield world


async def customer_says(world: AiWorld, text: str, name: str = "Jane") -> Any:
    async def go(s: Any) -> Any:
        return await customers.say(s, inbox=await s.get(Inbox, world.inbox_id), contact_name=name, content=text)

    return await world.db.write(go)


@pytest.fixture
async def ai_bot(db: Any) -> int:
    """An AI agent bot in a new account: its id."""
    from ndoto_cli.core.services import accounts, bots

    boot = await db.write(lambda s: accounts.bootstrap(s))
    bot, _ = await db.write(lambda s: bots.create_bot(s, account_id=boot.account.id, name="Helper", bot_type="ai"))
    return bot.id


@pytest.fixture
def cli(ndoto_home: Path) -> Cli:
    return Cli()


@pytest.fixture
def model_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLLM]:
    """The local model server as the CLI's model (NDOTO_AI_MODEL, NDOTO_AI_API_BASE): a few
    scripted answers for the example shop; tests set their own ``script``."""
    def answer(request: dict) -> Reply:
        question = request["messages"][-1]["content"].lower()
        system = request["messages"][0]["content"]
        if "warranty" in question:
            return Reply(handoff="not covered by the help centre")
        if "Refund timing" in system:
            return Reply("Refunds take 5 to 7 working days.")
        if "Shipping costs" in system:
            return Reply("Standard delivery costs K50; free over K1,000.")
        return Reply("I'm not sure; shall I bring in a colleague?")

    with served(FakeLLM(script=answer).start) as server:
        monkeypatch.setenv("NDOTO_AI_MODEL", "openai/test-model")
        monkeypatch.setenv("NDOTO_AI_API_BASE", server.base)
        yield server
