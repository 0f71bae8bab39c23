"""What every screen of the console works with: the database, who is acting, and one way to run
a core call so that a refusal becomes a notification instead of a crash.

Screens get a :class:`ConsoleSession` when they are made; none of them reaches into the app, so
the app sits above its screens and the screens above their dialogs (an import-linter contract).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ndoto_cli.core.db import Database
from ndoto_cli.core.errors import NdotoError
from ndoto_cli.tui.data import Who

T = TypeVar("T")


@dataclass
class ConsoleSession:
    db: Database
    who: Who
    notify: Callable[..., Any]  # the app's notify(message, severity=, title=)

    async def guard(self, awaitable: Awaitable[T]) -> T | None:
        """Run a core call; a failure becomes a notification, never a crash."""
        try:
            return await awaitable
        except NdotoError as exc:
            self.notify(exc.message + (f" ({exc.hint})" if exc.hint else ""), severity="error", title="Not done")
        except Exception as exc:  # noqa: BLE001 - e.g. the database is busy: say so, keep running
            self.notify(f"{type(exc).__name__}: {exc}", severity="error", title="Error")
        return None
