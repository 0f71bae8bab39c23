"""`ndoto chat`: a customer talks to an inbox; the message lands as an incoming one."""

from __future__ import annotations

from pathlib import Path

from ndoto_cli.core.settings import Settings
from ndoto_cli.tui.chat import ChatApp
from tests.conftest import World
from tests.sql import one


async def test_customer_chat(seeded: World, ndoto_home: Path) -> None:
    app = ChatApp(Settings(home=ndoto_home), inbox="Website Chat", contact="Kim")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press(*"hello there", "enter")
        await pilot.pause()
    row = one(
        ndoto_home, "select m.message_type, m.content, c.status from messages m join conversations c on c.id = m.conversation_id "
        "join contacts ct on ct.id = c.contact_id where ct.name = 'Kim'"
    )
    assert row == (0, "hello there", "pending")


async def test_unknown_inbox(seeded: World, ndoto_home: Path) -> None:
    app = ChatApp(Settings(home=ndoto_home), inbox="Nope", contact="Kim")
    async with app.run_test() as pilot:
        await pilot.pause()
    assert app.error and "Nope" in app.error
