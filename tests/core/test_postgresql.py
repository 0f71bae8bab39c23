"""What only PostgreSQL has to get right: processes racing to migrate a new database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import postgres
from tests.sql import run_sql

pytestmark = pytest.mark.postgresql_only("migrations under an advisory lock")


def test_processes_starting_at_once_on_a_new_database_do_not_race(postgres_cluster: Any, tmp_path: Path) -> None:
    """Four processes open (and so migrate) one empty database at the same moment: every one
    succeeds, the schema is made once, and each then writes."""
    url = postgres.empty_database(postgres_cluster)
    script = (
        "import asyncio, sys\n"
        "from ndoto_cli.core.db import Database\n"
        "from ndoto_cli.core.services import accounts\n"
        "from ndoto_cli.core.settings import Settings\n"
        "async def main():\n"
        "    db = await Database(Settings()).open()\n"
        "    await db.write(lambda s: accounts.create_account(s, name='from ' + sys.argv[1]))\n"
        "    await db.close()\n"
        "asyncio.run(main())\n"
    )
    env = {**os.environ, "NDOTO_DATABASE_URL": url, "NDOTO_HOME": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)], env=env, stderr=subprocess.PIPE, text=True) for n in range(4)]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    assert run_sql(None, "select count(*) from accounts", url=url)[0][0] == 4
    assert len(run_sql(None, "select version_num from alembic_version", url=url)) == 1


async def test_another_process_hears_of_new_deliveries_and_events_at_once(ndoto_home: Path) -> None:
    """Two Database objects on one PostgreSQL database, as two processes: a change written by one
    runs the other's hooks through LISTEN/NOTIFY, with no polling involved."""
    import asyncio

    from ndoto_cli.core.db import Database
    from ndoto_cli.core.models import Inbox
    from ndoto_cli.core.services import customers
    from ndoto_cli.core.settings import Settings
    from tests.conftest import make_world

    settings = Settings(home=ndoto_home)
    writer, listener = await Database(settings).open(), await Database(settings).open()
    try:
        world = await make_world(writer)
        deliveries, changes = asyncio.Event(), asyncio.Event()
        listener.on_commit(deliveries.set)
        listener.on_change(changes.set)
        await asyncio.wait_for(listener.listening.wait(), 30)

        async def say(s: Any) -> Any:
            return await customers.say(s, inbox=await s.get(Inbox, world.api_inbox_id), contact_name="Jane", content="Hi")

        await writer.write(say)  # the API inbox has no bot: an event, no delivery
        await asyncio.wait_for(changes.wait(), 30)
        assert not deliveries.is_set()

        async def say_to_the_bot(s: Any) -> Any:
            return await customers.say(s, inbox=await s.get(Inbox, world.web_inbox_id), contact_name="Jane", content="Hi")

        await writer.write(say_to_the_bot)
        await asyncio.wait_for(deliveries.wait(), 30)
    finally:
        await listener.close()
        await writer.close()


async def test_processes_creating_conversations_at_once_get_distinct_numbers(ndoto_home: Path) -> None:
    """Two writers (two processes' worth) open conversations in one account at the same time:
    every one is created, numbered 1..N without a gap or a twin."""
    import asyncio

    from ndoto_cli.core.db import Database
    from ndoto_cli.core.models import Inbox
    from ndoto_cli.core.services import customers
    from ndoto_cli.core.settings import Settings
    from tests.conftest import make_world

    settings = Settings(home=ndoto_home)
    first, second = await Database(settings).open(), await Database(settings).open()
    try:
        world = await make_world(first)

        async def open_one(db: Database, n: int) -> int:
            async def go(s: Any) -> Any:
                return await customers.say(s, inbox=await s.get(Inbox, world.api_inbox_id), contact_name=f"c{n}", content="hi")

            return (await db.write(go)).bundle.conversation.display_id

        async def one_after_another(db: Database, start: int) -> list[int]:
            return [await open_one(db, n) for n in range(start, start + 20)]  # one change per transaction

        mine, theirs = await asyncio.gather(one_after_another(first, 0), one_after_another(second, 100))
        assert sorted(mine + theirs) == list(range(1, 41))
    finally:
        await first.close()
        await second.close()
