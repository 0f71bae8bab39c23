"""The storage layer: the database and its writer (``database``), the inline SQLite driver
(``sqlite_inline``), the statements that run raw on the hot path (``statements``), migrations on
open (``migrate``) and online backups (``backup``). Services see only :class:`Database` and
their session; nothing above this package knows which driver runs underneath."""

from ndoto_cli.core.db.database import NEW_DELIVERIES, NEW_EVENTS, Database, sqlite_path

__all__ = ["NEW_DELIVERIES", "NEW_EVENTS", "Database", "sqlite_path"]
