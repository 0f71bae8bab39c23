"""Dispatcher fixtures: a real receiver on 127.0.0.1, a world whose bot points at it, a running worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ndoto_cli.core.db import Database
from ndoto_cli.core.models import Inbox
from ndoto_cli.core.services import customers
from ndoto_cli.core.settings import Settings
from ndoto_cli.dispatch.worker import Dispatcher
from tests.conftest import World, make_world
from tests.dispatch.receiver import Receiver


@pytest.fixture
def dispatch_settings(ndoto_home: Path) -> Settings:
    return Settings(
        home=ndoto_home, allow_private_addresses=True, delivery_timeout=2.0,
        delivery_retry_schedule=[0.2, 0.4, 0.8], delivery_max_attempts=4, handoff_after=1.0,
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    yield r
    await r.stop()


@pytest.fixture
async def ddb(dispatch_settings: Settings) -> AsyncIterator[Database]:
    database = await Database(dispatch_settings).open()
    yield database
    await database.close()


@pytest.fixture
async def dworld(ddb: Database, receiver: Receiver) -> World:
    return await make_world(ddb, bot_url=receiver.url)


@pytest.fixture
async def dispatcher(ddb: Database, dispatch_settings: Settings) -> AsyncIterator[Dispatcher]:
    worker = Dispatcher(ddb, dispatch_settings)
    await worker.start()
    yield worker
    await worker.stop()


async def say(world: World, text: str, *, name: str = "Jane", inbox_id: int | None = None) -> Any:
    async def go(s: Any) -> Any:
        return await customers.say(s, inbox=await s.get(Inbox, inbox_id or world.web_inbox_id), contact_name=name, content=text)

    return await world.db.write(go)
