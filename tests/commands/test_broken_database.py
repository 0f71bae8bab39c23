"""Every front end against a database that is missing, corrupt, written by a newer Ndoto, or
read-only: one line on stderr naming the problem, a non-zero exit, never a traceback, and the file
left exactly as it was. Real ``ndoto`` processes, no terminal (as in CI)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.sqlite_only("states of the SQLite file (corrupt, read-only, newer)")

NDOTO = str(Path(sys.executable).parent / "ndoto")

# One command of every group, the full-screen apps, the servers, and the database's own commands.
COMMANDS: list[list[str]] = [
    ["status"], ["init"], ["say", "--inbox", "Chat", "hello"], ["accounts", "list"], ["agents", "list"],
    ["inboxes", "list"], ["inbox", "assign", "Bot", "Chat"], ["bots", "list"], ["conversations", "list"],
    ["contacts", "list"], ["deliveries", "list"], ["platform", "list"], ["kb", "list", "Bot"], ["db", "info"],
    ["db", "upgrade"], ["config", "set", "account", "1"], ["tui"], ["chat", "Chat"], ["serve", "--port", "0"], ["worker"],
]
# With no database yet these create one (that is their job) or report an empty installation.
CREATE_OR_REPORT = {"status", "init", "accounts", "platform", "db", "serve", "worker"}


def _run(args: list[str], home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NDOTO_HOME": str(home), **extra}
    env.pop("NDOTO_DATABASE_URL", None)
    return subprocess.run([NDOTO, *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=90)


def _all(home: Path, commands: list[list[str]]) -> list[tuple[list[str], subprocess.CompletedProcess[str]]]:
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(zip(commands, pool.map(lambda args: _run(args, home), commands), strict=True))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_clear_line(args: list[str], done: subprocess.CompletedProcess[str], *needles: str) -> None:
    where = f"ndoto {' '.join(args)}: rc={done.returncode}\n{done.stderr}"
    assert done.returncode != 0, where
    assert "Traceback" not in done.stderr + done.stdout, where
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), where
    assert all(n in lines[0] for n in needles), where
    assert "\x1b[" not in done.stdout + done.stderr, where  # no screen drawn and torn down


@pytest.fixture
def made(tmp_path: Path) -> Path:
    """A home with a current, set-up database (copied for each state)."""
    home = tmp_path / "made"
    assert _run(["init"], home).returncode == 0
    return home / "ndoto.db"


def test_missing_database(tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    commands = [c for c in COMMANDS if c[0] not in CREATE_OR_REPORT and c[0] not in ("tui", "chat")]
    for args, done in _all(home, commands):
        _one_clear_line(args, done, "ndoto init")


def test_corrupt_database(tmp_path: Path) -> None:
    home = tmp_path / "corrupt"
    home.mkdir()
    db = home / "ndoto.db"
    db.write_bytes(b"junk that is not SQLite\n" * 40)
    before = _digest(db)
    for args, done in _all(home, COMMANDS):
        _one_clear_line(args, done, str(db), "damaged")
    assert _digest(db) == before


def test_database_written_by_a_newer_ndoto(tmp_path: Path, made: Path) -> None:
    home = tmp_path / "newer"
    home.mkdir()
    db = home / "ndoto.db"
    shutil.copy(made, db)
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    before = _digest(db)
    for args, done in _all(home, COMMANDS):
        _one_clear_line(args, done, str(db), "newer Ndoto", "0099")
    assert _digest(db) == before


@contextlib.contextmanager
def _read_only(home: Path, db: Path) -> Iterator[None]:
    """Read-only for whoever runs the suite: the immutable flag as root (root ignores modes),
    modes otherwise."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(db), str(home)]).returncode != 0:
            pytest.skip("running as root on a filesystem without chattr +i: nothing can be made read-only")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(db), str(home)], check=True)
    else:
        db.chmod(0o444)
        home.chmod(0o555)
        try:
            yield
        finally:
            home.chmod(0o755)
            db.chmod(0o644)


def test_read_only_database(tmp_path: Path, made: Path) -> None:
    home = tmp_path / "readonly"
    home.mkdir()
    db = home / "ndoto.db"
    shutil.copy(made, db)
    before = _digest(db)
    with _read_only(home, db):
        results = _all(home, COMMANDS)
    for args, done in results:
        _one_clear_line(args, done, str(db))
    assert _digest(db) == before


def test_home_is_a_file(tmp_path: Path) -> None:
    home = tmp_path / "a-file"
    home.write_text("not a folder")
    for args, done in _all(home, [["inboxes", "list"], ["serve", "--port", "0"], ["worker"], ["tui"]]):
        _one_clear_line(args, done, str(home))
