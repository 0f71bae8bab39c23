"""What only PostgreSQL has to get right: processes racing to migrate a new database, concurrent
write transactions and the order they commit in."""

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


async def test_the_change_feed_never_skips_an_event_that_commits_late(ndoto_home: Path) -> None:
    """Concurrent write transactions: the first takes a smaller event id but commits after the
    second. A reader of the feed (the console, the widget's hub) gets the second only once the
    first has committed, then both, each once; reading "after the last id" would have skipped
    the first for good."""
    import asyncio

    from sqlalchemy import text

    from ndoto_cli.core.db import Database
    from ndoto_cli.core.outbox import events, feed
    from ndoto_cli.core.settings import Settings
    from tests.conftest import make_world

    db = await Database(Settings(home=ndoto_home)).open()
    try:
        world = await make_world(db)
        async with db.read() as s:
            mark = await feed.start(s)
            seen_before = {r[0] for r in (await feed.after(s, mark, limit=1000)).rows}
        release = asyncio.Event()
        first_wrote = asyncio.Event()

        async def slow(s: Any) -> int:
            event_id = await events.emit(s, name="late", account_id=world.account_id, conversation_id=None, payload={}, recipients=[])
            first_wrote.set()
            await release.wait()
            return event_id

        async def quick(s: Any) -> int:
            return await events.emit(s, name="early", account_id=world.account_id, conversation_id=None, payload={}, recipients=[])

        late = asyncio.create_task(db.write(slow))
        await first_wrote.wait()
        early_id = await db.write(quick)
        async with db.read() as s:
            page = await feed.after(s, mark, limit=1000)
            ids_meanwhile = {r[0] for r in page.rows} - seen_before
            assert early_id not in ids_meanwhile  # held back while an older transaction runs
            assert max(r[0] for r in (await s.execute(text("SELECT id FROM events"))).all()) == early_id
        release.set()
        late_id = await late
        assert late_id < early_id
        async with db.read() as s:
            rows = (await feed.after(s, page.mark, limit=1000)).rows
        names = [r[3] for r in rows if r[0] in (late_id, early_id)]
        assert names == ["late", "early"]
    finally:
        await db.close()


async def test_concurrent_writes_to_one_conversation_take_ids_in_commit_order(ndoto_home: Path) -> None:
    """Many concurrent write transactions (a pool of writers) post to the same conversations: in
    each conversation, the deliveries' ids, the events' ids and the commit order agree, so the
    dispatcher sends a bot a conversation's messages in the order they were written."""
    import asyncio

    from ndoto_cli.core.actors import Actor
    from ndoto_cli.core.db import Database
    from ndoto_cli.core.models import Inbox
    from ndoto_cli.core.services import customers, messages
    from ndoto_cli.core.settings import Settings
    from tests.conftest import make_world

    db = await Database(Settings(home=ndoto_home, database_writers=8, conversation_messages_per_minute=100_000)).open()
    try:
        world = await make_world(db)
        displays = []
        for n in range(3):
            async def go(s: Any, n: int = n) -> Any:
                return await customers.say(s, inbox=await s.get(Inbox, world.web_inbox_id), contact_name=f"c{n}", content="start")

            displays.append((await db.write(go)).bundle.conversation.display_id)
        agent = Actor("user", world.agent_id, "Ann")

        async def post(display_id: int, i: int) -> None:
            await db.write(lambda s: messages.create_message(
                s, account_id=world.account_id, display_id=display_id, actor=agent, content=f"{display_id}:{i}", private=True))

        await asyncio.gather(*[post(displays[i % 3], i) for i in range(90)])
        rows = run_sql(None, "select e.conversation_id, e.id, m.id from events e join messages m "
                       "on m.conversation_id = e.conversation_id and e.payload::json->>'id' = m.id::text "
                       "where e.name = 'message_created' order by e.id", url=db.url)
        for conversation_id in {r[0] for r in rows}:
            message_ids = [r[2] for r in rows if r[0] == conversation_id]
            assert message_ids == sorted(message_ids), "a conversation's events and messages disagree on the order"
    finally:
        await db.close()
