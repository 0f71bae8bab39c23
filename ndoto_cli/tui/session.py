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

    async def guard(self, awaitable: Awaitable[T], *, quiet: bool = False) -> T | None:
        """Run a core call; a failure becomes a notification, never a crash (``quiet``: nothing
        at all, for what the human did not ask for, like telling a customer they are typing)."""
        try:
            return await awaitable
        except NdotoError as exc:
            if not quiet:
                self.notify(exc.message + (f" ({exc.hint})" if exc.hint else ""), severity="error", title="Not done")
        except Exception as exc:  # noqa: BLE001 - e.g. the database is busy: say so, keep running
            if not quiet:
                self.notify(f"{type(exc).__name__}: {exc}", severity="error", title="Error")
        return None
