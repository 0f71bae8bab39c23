"""Snapshots pin the main screens (seeded data with fixed times; `pytest --snapshot-update` to renew)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ndoto_cli.core.settings import Settings
from ndoto_cli.tui.app import InboxApp
from tests.conftest import World

pytestmark = pytest.mark.once("the console's drawing; its behaviour on each database is tests/tui/test_console.py")

SIZE = (150, 36)


def app_for(home: Path) -> InboxApp:
    return InboxApp(Settings(home=home), as_email="ann@acme.test", poll_interval=3600)


def test_inbox_view(seeded: World, ndoto_home: Path, snap_compare: Any) -> None:
    async def open_first(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("escape", "enter")
        await pilot.pause()

    assert snap_compare(app_for(ndoto_home), terminal_size=SIZE, run_before=open_first)


def test_private_note_mode(seeded: World, ndoto_home: Path, snap_compare: Any) -> None:
    async def note(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("escape", "enter", "ctrl+n", "i", *"VIP customer")
        await pilot.pause()

    assert snap_compare(app_for(ndoto_home), terminal_size=SIZE, run_before=note)


def test_bots_screen(seeded: World, ndoto_home: Path, snap_compare: Any) -> None:
    async def bots(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("B")
        await pilot.pause()

    assert snap_compare(app_for(ndoto_home), terminal_size=SIZE, run_before=bots)


def test_help(seeded: World, ndoto_home: Path, snap_compare: Any) -> None:
    async def show_help(pilot: Any) -> None:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(app_for(ndoto_home), terminal_size=SIZE, run_before=show_help)
