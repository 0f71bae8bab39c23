"""Backups of the embedded database, and who is using it.

A backup is SQLite's online backup API: a consistent copy while ``ndoto serve`` keeps writing
(WAL included), page by page, never a file copy of a live database. A restore replaces the live
database, so it refuses while a server or worker has the file open: each of those holds a shared
lock on ``<database>-ndoto.lock`` for as long as it runs (and records its address beside it),
and the restore needs that lock exclusively.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ndoto_cli.core.errors import Conflict, Invalid


def lock_path(db_path: str) -> Path:
    return Path(f"{db_path}-ndoto.lock")


def _runfile(db_path: str, pid: int) -> Path:
    return Path(f"{db_path}-ndoto.run.{pid}.json")


@contextlib.contextmanager
def in_use(db_path: str, *, role: str, address: str | None = None) -> Iterator[None]:
    """Held by ``ndoto serve`` and ``ndoto worker`` while they run: a shared lock (several may
    run at once) and a small file saying who and where (``ndoto status`` reads it)."""
    import fcntl

    from ndoto_cli.core.errors import NdotoError

    run = _runfile(db_path, os.getpid())
    try:
        handle = open(lock_path(db_path), "a+")  # noqa: SIM115 - held for the whole block
        fcntl.flock(handle, fcntl.LOCK_SH)
        run.write_text(json.dumps({"pid": os.getpid(), "role": role, "address": address, "started_at": time.time()}))
    except OSError as exc:
        raise NdotoError(f"cannot write beside the database ({exc.filename or db_path}: {exc.strerror or exc}): "
                          "its folder must be writable") from None
    try:
        yield
    finally:
        run.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(db_path: str) -> list[dict[str, Any]]:
    """The servers and workers using this database now (stale records of dead processes skipped)."""
    out = []
    for path in sorted(Path(db_path).parent.glob(Path(db_path).name + "-ndoto.run.*.json")):
        try:
            info = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and isinstance(info.get("pid"), int) and _alive(info["pid"]):
            out.append(info)
    return out


@contextlib.contextmanager
def exclusive(db_path: str) -> Iterator[None]:
    """No server or worker may hold the database meanwhile (Conflict naming them if one does)."""
    import fcntl

    with open(lock_path(db_path), "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            users = ", ".join(f"{r['role']} (pid {r['pid']}{', ' + r['address'] if r.get('address') else ''})" for r in running(db_path))
            raise Conflict(f"the database is in use by {users or 'another ndoto process'}", hint="stop it first") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class Copied:
    path: str
    bytes: int
    revision: str | None


def _revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def backup(db_path: str, dest: Path) -> Copied:
    """A consistent copy of the live database at ``dest`` (which must not exist yet)."""
    if dest.exists():
        raise Invalid(f"{dest} already exists: choose a new file name", field="path")
    if not Path(db_path).exists():
        raise Invalid(f"no database at {db_path} yet: nothing to back up")
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        source.backup(target, pages=1024)  # in steps: writers are held up for a moment at a time
        revision = _revision(target)
        if target.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise Invalid(f"the copy at {dest} failed its integrity check")
    finally:
        target.close()
        source.close()
    return Copied(str(dest), dest.stat().st_size, revision)


def check_backup(src: Path, *, head: str | None) -> str | None:
    """A file we can restore: an intact Ndoto database no newer than this Ndoto; its revision."""
    if not src.is_file():
        raise Invalid(f"no such file: {src}", field="path")
    try:
        conn = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            revision = _revision(conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise Invalid(f"{src} is not a SQLite database ({exc})", field="path") from None
    if not ok:
        raise Invalid(f"{src} failed SQLite's integrity check: it cannot be restored", field="path")
    if revision is None:
        raise Invalid(f"{src} is not an Ndoto database (no schema revision)", field="path")
    if head is not None and revision > head:
        raise Invalid(f"{src} was written by a newer Ndoto (revision {revision} > {head}): upgrade ndoto first", field="path")
    return revision


def restore(src: Path, db_path: str, *, head: str | None) -> Copied:
    """Replace the database with ``src`` (checked first), while no server or worker uses it."""
    revision = check_backup(src, head=head)
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    with exclusive(db_path):
        source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        target = sqlite3.connect(db_path)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
    return Copied(db_path, Path(db_path).stat().st_size, revision)
