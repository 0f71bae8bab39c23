"""The console on real volumes: 10,000 conversations and 200,000 messages.

Prints the time from starting the app to the first screen with rows (headless, Textual's test
driver), and the time of a tab switch and of opening a thread. Seeding: ``benchmarks/_seed.py``
(raw inserts shaped like what the core writes). Run: ``.venv/bin/python benchmarks/tui.py``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _seed import seed

CONVERSATIONS = 10_000
MESSAGES = 200_000


async def measure(home: Path) -> None:
    from textual.widgets import DataTable

    from ndoto_cli.core.settings import Settings
    from ndoto_cli.tui.app import InboxApp

    app = InboxApp(Settings(home=home), poll_interval=3600)
    start = time.perf_counter()
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.query_one("#conversations", DataTable)
        while table.row_count == 0:
            await pilot.pause(0.01)
        first = time.perf_counter() - start
        t0 = time.perf_counter()
        screen = app.screen  # the inbox screen: its tabs and its loading
        screen.action_tab("resolved")
        await pilot.pause()
        await screen.refresh_all()
        switch = time.perf_counter() - t0
        t0 = time.perf_counter()
        await app.show_thread(int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))
        thread = time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(50):
            await pilot.press("down")
        scroll = (time.perf_counter() - t0) / 50
    print(f"first screen with rows ({CONVERSATIONS:,} conversations, {MESSAGES:,} messages): {first * 1000:.0f} ms")
    print(f"tab switch: {switch * 1000:.0f} ms; open a thread: {thread * 1000:.0f} ms; one row down: {scroll * 1000:.1f} ms")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        t0 = time.perf_counter()
        seed(home, CONVERSATIONS, MESSAGES)
        print(f"seeded in {time.perf_counter() - t0:.1f} s")
        asyncio.run(measure(home))


if __name__ == "__main__":
    main()
