"""Nothing is destroyed by one keystroke: destructive commands ask, scripts say --yes; backups."""

from __future__ import annotations

import os
import pty
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.commands.conftest import Cli
from tests.serve_process import start_serve
from tests.sql import run_sql


def _ndoto(home: Path, *args: str, stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NDOTO_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "ndoto_cli", *args], capture_output=True, text=True, env=env, stdin=stdin, timeout=60)


def _on_a_terminal(home: Path, args: list[str], answer: str) -> tuple[int, str]:
    """Run a command with a real terminal as its standard input and answer its question."""
    env = {**os.environ, "NDOTO_HOME": str(home)}
    controller, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "ndoto_cli", *args], stdin=terminal, stdout=subprocess.PIPE,
                            stderr=terminal, env=env, text=True)
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 30
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                seen += os.read(controller, 1024)
            except OSError:
                break
    os.write(controller, (answer + "\n").encode())
    out, _ = proc.communicate(timeout=30)
    while True:  # what it wrote to the terminal after the answer
        ready, _, _ = select.select([controller], [], [], 0.2)
        if not ready:
            break
        try:
            chunk = os.read(controller, 1024)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    os.close(controller)
    return proc.returncode, seen.decode(errors="replace") + out


@pytest.mark.parametrize(
    "args",
    [["inboxes", "delete", "Website Chat"], ["bots", "delete", "OrderBot"], ["bots", "token", "reset", "OrderBot"],
     ["bots", "secret", "reset", "OrderBot"], ["agents", "delete", "ann@acme.test"], ["agents", "token", "reset", "ann@acme.test"]],
)
def test_without_a_terminal_a_destructive_command_needs_yes(cli: Cli, ready: object, ndoto_home: Path, args: list[str]) -> None:
    ready()  # type: ignore[operator]
    cli("agents", "create", "--email", "ann@acme.test", "--name", "Ann")
    tokens = run_sql(ndoto_home, "select token_hash from access_tokens order by id")
    result = _ndoto(ndoto_home, *args)
    assert result.returncode == 2 and "needs --yes" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    for table, count in (("inboxes", 1), ("agent_bots", 1), ("users", 2)):
        assert run_sql(ndoto_home, f"select count(*) from {table}")[0][0] == count
    assert run_sql(ndoto_home, "select token_hash from access_tokens order by id") == tokens
    assert _ndoto(ndoto_home, *args, "--yes").returncode == 0


def test_on_a_terminal_it_asks_and_no_changes_nothing(cli: Cli, ready: object, ndoto_home: Path) -> None:
    ready()  # type: ignore[operator]
    cli("say", "--inbox", "Website Chat", "--contact", "Jane", "Hi")
    code, output = _on_a_terminal(ndoto_home, ["inboxes", "delete", "Website Chat"], "n")
    assert code == 1 and "its 1 conversation(s)" in output and "nothing changed" in output
    assert cli.json("inboxes", "list")[0]["name"] == "Website Chat"
    code, output = _on_a_terminal(ndoto_home, ["inboxes", "delete", "Website Chat"], "y")
    assert code == 0 and "Deleted inbox" in output
    assert cli.json("inboxes", "list") == []


def test_bulk_retry_asks_first(cli: Cli, ready: object, ndoto_home: Path) -> None:
    ready()  # type: ignore[operator]
    cli("say", "--inbox", "Website Chat", "--contact", "Jane", "Hi")
    run_sql(ndoto_home, "update deliveries set status = 'failed'")
    result = _ndoto(ndoto_home, "deliveries", "retry", "--failed")
    assert result.returncode == 2 and "needs --yes" in result.stderr
    assert cli.json("deliveries", "retry", "--failed", "--yes")["retried"] == 1


@pytest.mark.sqlite_only("db backup and restore copy the SQLite file")
def test_backup_while_serving_and_restore_only_when_stopped(cli: Cli, ready: object, ndoto_home: Path, tmp_path: Path) -> None:
    ready()  # type: ignore[operator]
    cli("say", "--inbox", "Website Chat", "--contact", "Jane", "Before the backup")
    served = start_serve(ndoto_home, args=["--no-dispatcher"])
    try:
        copy = tmp_path / "backup.db"
        made = _ndoto(ndoto_home, "db", "backup", str(copy), "--json")
        assert made.returncode == 0, made.stderr
        assert _ndoto(ndoto_home, "db", "backup", str(copy)).returncode == 1  # never overwrites
        cli("say", "--inbox", "Website Chat", "--contact", "Jane", "After the backup")
        refused = _ndoto(ndoto_home, "db", "restore", str(copy), "--yes")
        assert refused.returncode == 1 and "in use by serve" in refused.stderr and "stop it first" in refused.stderr
    finally:
        served.stop()
    restored = _ndoto(ndoto_home, "db", "restore", str(copy), "--yes")
    assert restored.returncode == 0, restored.stderr
    texts = [m["content"] for m in cli.json("conversations", "show", "1")["messages"]]
    assert "Before the backup" in texts and "After the backup" not in texts


@pytest.mark.sqlite_only("db backup and restore copy the SQLite file")
def test_restore_refuses_what_is_not_an_ndoto_backup(cli: Cli, ndoto_home: Path, tmp_path: Path) -> None:
    cli("init")
    junk = tmp_path / "junk.db"
    junk.write_text("not a database")
    result = _ndoto(ndoto_home, "db", "restore", str(junk), "--yes")
    assert result.returncode == 1 and "not a SQLite database" in result.stderr
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).execute("create table t (x)").connection.close()
    result = _ndoto(ndoto_home, "db", "restore", str(empty), "--yes")
    assert result.returncode == 1 and "not an Ndoto database" in result.stderr
