"""Console fixtures: a seeded SQLite file with fixed timestamps (so snapshots are stable)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ndoto_cli.core.actors import Actor
from ndoto_cli.core.db import Database
from ndoto_cli.core.models import Inbox
from ndoto_cli.core.services import customers, messages
from ndoto_cli.core.settings import Settings
from tests.conftest import World, make_world
from tests.sql import run_sql

FIXED = 1_780_000_000  # 2026-05-28: every timestamp in the seeded data


async def _seed(settings: Settings) -> World:
    db = await Database(settings).open()
    try:
        world = await make_world(db)

        async def say(s: Any, name: str, text: str) -> Any:
            return await customers.say(s, inbox=await s.get(Inbox, world.web_inbox_id), contact_name=name, content=text)

        await db.write(lambda s: say(s, "Jane Doe", "Where is my order #4521?"))
        await db.write(lambda s: say(s, "Joe Banda", "Do you ship to Malawi?"))
        bot = Actor("agent_bot", world.bot_id, "OrderBot")
        await db.write(lambda s: messages.create_message(s, account_id=world.account_id, display_id=1, actor=bot, content="Let me check that order for you."))
        return world
    finally:
        await db.close()


def seed(home: Path) -> World:
    world = asyncio.run(_seed(Settings(home=home)))
    for table, cols in {"conversations": ("created_at", "updated_at", "last_activity_at"), "messages": ("created_at", "updated_at")}.items():
        for col in cols:
            run_sql(home, f"UPDATE {table} SET {col} = {FIXED} + id * 60")
    return world


@pytest.fixture
def seeded(ndoto_home: Path) -> World:
    return seed(ndoto_home)
