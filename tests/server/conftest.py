"""Server fixtures: a seeded database file and an in-process client of the real app."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ndoto_cli.core.db import Database
from ndoto_cli.core.models import Inbox
from ndoto_cli.core.services import accounts, bots, customers, inboxes
from ndoto_cli.core.settings import Settings
from ndoto_cli.server.app import create_app
from tests.conftest import World, make_world


@dataclass
class Seed:
    world: World
    other_bot_token: str  # a bot of the same account, active in the API inbox
    other_bot_id: int
    foreign_bot_token: str  # a bot of another account
    platform_token: str
    web_conversation: int  # display id of a pending conversation in the web inbox (owned by world.bot)
    api_conversation: int  # display id of a conversation in the API inbox (owned by other bot)
    web_identifier: str
    api_identifier: str

    def h(self, token: str | None) -> dict[str, str]:
        return {"api_access_token": token} if token else {}


async def _seed(settings: Settings) -> Seed:
    db = await Database(settings).open()
    try:
        world = await make_world(db)
        other, other_token = await db.write(
            lambda s: bots.create_bot(s, account_id=world.account_id, name="ApiBot", outgoing_url="https://127.0.0.1:9/h")
        )
        await db.write(lambda s: inboxes.set_inbox_bot(s, account_id=world.account_id, inbox_id=world.api_inbox_id, bot_id=other.id))
        acct2 = await db.write(lambda s: accounts.create_account(s, name="Other Co"))
        _foreign, foreign_token = await db.write(
            lambda s: bots.create_bot(s, account_id=acct2.id, name="Foreign", outgoing_url="https://127.0.0.1:9/h")
        )
        _app, platform_token = await db.write(lambda s: accounts.create_platform_app(s, name="Platform"))

        async def conv(s: Any, inbox_id: int, name: str) -> Any:
            return await customers.say(s, inbox=await s.get(Inbox, inbox_id), contact_name=name, content="hello")

        web = await db.write(lambda s: conv(s, world.web_inbox_id, "Jane"))
        api = await db.write(lambda s: conv(s, world.api_inbox_id, "Joe"))
        return Seed(
            world, other_token, other.id, foreign_token, platform_token,
            web.bundle.conversation.display_id, api.bundle.conversation.display_id,
            web.bundle.inbox.identifier, api.bundle.inbox.identifier,
        )
    finally:
        await db.close()


@pytest.fixture
def seed(ndoto_home: Path) -> Seed:
    return asyncio.run(_seed(Settings(home=ndoto_home)))


@pytest.fixture
def client(seed: Seed, ndoto_home: Path) -> Iterator[TestClient]:
    app = create_app(Settings(home=ndoto_home), start_dispatcher=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
