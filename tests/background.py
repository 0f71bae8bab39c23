"""A local server (model server, order service, ...) on its own event loop in a thread, for sync
tests: the CLI's `asyncio.run` and FastAPI's TestClient cannot share the test's loop."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


@contextlib.contextmanager
def served(start: Callable[[], Awaitable[T]]) -> Iterator[T]:
    """``start()`` on a background loop; the server it returns is stopped (``.stop()``) at exit."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server: Any = asyncio.run_coroutine_threadsafe(start(), loop).result(10)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
