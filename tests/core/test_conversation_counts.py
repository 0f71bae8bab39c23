"""The conversation counts (migration 0018's triggers) stay equal to counting the conversations,
through every kind of change: creation, status, assignment, a deleted agent, a deleted inbox, a
raw insert; and the listing's counts and the console's tab counts read them right."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from ndoto_cli.core import queries
from ndoto_cli.core.actors import Actor
from ndoto_cli.core.db import Database
from ndoto_cli.core.services import accounts, contacts, conversations, inboxes
from tests.conftest import World

GROUPED = ("SELECT account_id, inbox_id, status, COALESCE(assignee_id, 0), count(*) FROM conversations "
           "GROUP BY account_id, inbox_id, status, COALESCE(assignee_id, 0)")
KEPT = "SELECT account_id, inbox_id, status, assignee_id, n FROM conversation_counts WHERE n != 0"


async def kept_equals_counted(db: Database) -> None:
    async with db.read() as s:
        counted = {tuple(r[:4]): r[4] for r in (await s.execute(text(GROUPED))).all()}
        kept = {tuple(r[:4]): r[4] for r in (await s.execute(text(KEPT))).all()}
    assert kept == counted


async def listing_counts_by_hand(db: Database, world: World, **filters: Any) -> None:
    """Each count of the listing and of the tabs equals a count of the conversations themselves."""
    async with db.read() as s:
        rows = (await s.execute(text("SELECT status, assignee_id, inbox_id FROM conversations WHERE account_id = :a"),
                                {"a": world.account_id})).all()
        for status in ("open", "pending", "resolved", "snoozed", "all"):
            page = await queries.list_conversations(s, account_id=world.account_id, status=status, user_id=world.agent_id, **filters)
            chosen = [r for r in rows if (status == "all" or r[0] == status)
                      and (filters.get("inbox_id") is None or r[2] == filters["inbox_id"])]
            assert page.meta() == {
                "mine_count": sum(r[1] == world.agent_id for r in chosen),
                "assigned_count": sum(r[1] is not None for r in chosen),
                "unassigned_count": sum(r[1] is None for r in chosen),
                "all_count": len(chosen),
            }
            assert len(page.items) == min(len(chosen), queries.PAGE_SIZE)
        tabs = await queries.tab_counts(s, account_id=world.account_id, user_id=world.agent_id, inbox_id=filters.get("inbox_id"))
        for tab in queries.TABS:
            listed = await queries.conversation_rows(s, account_id=world.account_id, tab=tab, user_id=world.agent_id,
                                                     inbox_id=filters.get("inbox_id"), limit=1000)
            assert tabs[tab] == len(listed), tab


async def test_the_counts_follow_every_change(db: Database, world: World) -> None:
    admin = Actor("user", world.admin_id, "Admin")
    extra, _ = await db.write(lambda s: accounts.create_user(s, account_id=world.account_id, name="Eve", email="eve@acme.test"))
    made = []
    for i in range(6):
        contact = await db.write(lambda s, i=i: contacts.create_contact(s, account_id=world.account_id, name=f"C{i}"))
        inbox = world.web_inbox_id if i % 2 else world.api_inbox_id
        bundle = await db.write(lambda s, c=contact, b=inbox: conversations.create_conversation(
            s, account_id=world.account_id, inbox_id=b, contact_id=c.id, actor=admin))
        made.append(bundle.conversation.display_id)
    await kept_equals_counted(db)
    await listing_counts_by_hand(db, world)

    for display_id, user in zip(made[:4], [world.agent_id, world.agent_id, extra.id, None], strict=True):
        await db.write(lambda s, d=display_id, u=user: conversations.assign_user(
            s, account_id=world.account_id, display_id=d, user_id=u, actor=admin))
    await db.write(lambda s: conversations.change_status(s, account_id=world.account_id, display_id=made[0], status="resolved", actor=admin))
    await db.write(lambda s: conversations.change_status(s, account_id=world.account_id, display_id=made[1], status="snoozed", actor=admin))
    await db.write(lambda s: conversations.change_status(s, account_id=world.account_id, display_id=made[5], status="open", actor=admin))
    await kept_equals_counted(db)
    await listing_counts_by_hand(db, world)
    await listing_counts_by_hand(db, world, inbox_id=world.web_inbox_id)

    await db.write(lambda s: accounts.delete_user(s, account_id=world.account_id, user_id=extra.id))  # its conversation: unassigned
    await kept_equals_counted(db)
    await listing_counts_by_hand(db, world)

    async with db.read() as s:  # a row written by hand (a script, an import) is counted too
        contact_inbox = (await s.execute(text("SELECT id, contact_id FROM contact_inboxes LIMIT 1"))).one()
    await db.write(lambda s: s.execute(text(
        "INSERT INTO conversations (account_id, display_id, uuid, inbox_id, contact_id, contact_inbox_id, status, "
        "additional_attributes, custom_attributes, created_at, updated_at, last_activity_at) "
        "VALUES (:a, 999, 'u-999', :i, :c, :ci, 'open', '{}', '{}', 0, 0, 0)"),
        {"a": world.account_id, "i": world.api_inbox_id, "c": contact_inbox[1], "ci": contact_inbox[0]}))
    await kept_equals_counted(db)

    await db.write(lambda s: inboxes.delete_inbox(s, account_id=world.account_id, inbox_id=world.web_inbox_id))
    await kept_equals_counted(db)
    await listing_counts_by_hand(db, world)
