"""`ndoto db copy`: an installation moves to another database (SQLite to PostgreSQL and back)
with every row and id, its knowledge base still searchable, and keeps working there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import postgres
from tests.commands.conftest import Cli
from tests.sql import run_sql

NDOTO = str(Path(sys.executable).parent / "ndoto")


def _ndoto(home: Path, *args: str, url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NDOTO_HOME": str(home)}
    if url is not None:
        env["NDOTO_DATABASE_URL"] = url
    return subprocess.run([NDOTO, *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=120)


def _fill(cli: Cli, ready: Callable[[], dict[str, Any]], tmp_path: Path) -> None:
    ready()
    for n in range(30):
        cli("say", "--inbox", "Website Chat", "--contact", f"Customer {n}", f"Question number {n}")
    cli("conversations", "reply", "3", "We are on it")
    cli("bots", "create", "--type", "ai", "--name", "Helper", "--model", "openai/gpt-4o-mini")
    doc = tmp_path / "returns.md"
    doc.write_text("# Returns\n\nYou can return items within 30 days for a full refund.\n", encoding="utf-8")
    cli("kb", "add", "Helper", str(doc))


def _round_trip(cli: Cli, home: Path, target: str) -> None:
    source = _ndoto(home, "status", "--json")
    assert source.returncode == 0, source.stderr
    done = _ndoto(home, "db", "copy", "--to", target, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["tables"]["messages"] >= 31 and report["tables"]["kb_passages"] == 1
    # The same rows, ids and all, on the other side; the copy works as a database of its own.
    for table in ("conversations", "messages", "contacts", "events", "deliveries", "agent_bots"):
        assert run_sql(home, f"select id from {table} order by id") == run_sql(None, f"select id from {table} order by id", url=target)
    shown = _ndoto(home, "conversations", "show", "3", "--json", url=target)
    assert shown.returncode == 0, shown.stderr
    assert [m["content"] for m in json.loads(shown.stdout)["messages"] if m["message_type"] != 2] == ["Question number 2", "We are on it"]
    found = _ndoto(home, "kb", "search", "Helper", "can I get my money back?", "--json", url=target)
    assert found.returncode == 0 and "30 days" in found.stdout, found.stdout + found.stderr
    said = _ndoto(home, "say", "--inbox", "Website Chat", "--contact", "New One", "after the move", "--json", url=target)
    assert said.returncode == 0, said.stderr  # new ids come after the copied ones
    again = _ndoto(home, "db", "copy", "--to", target)
    assert again.returncode == 1 and "not empty" in again.stderr


@pytest.mark.postgresql_only("from PostgreSQL, in its pass (SQLite to SQLite adds nothing)")
def test_copy_to_sqlite(cli: Cli, ready: Callable[[], dict[str, Any]], ndoto_home: Path, tmp_path: Path) -> None:
    """From the suite's PostgreSQL database back to a new SQLite file."""
    _fill(cli, ready, tmp_path)
    _round_trip(cli, ndoto_home, f"sqlite+aiosqlite:///{tmp_path / 'moved' / 'ndoto.db'}")


@pytest.mark.sqlite_only("from SQLite, in its pass (PostgreSQL to PostgreSQL adds nothing)")
def test_copy_to_postgresql(cli: Cli, ready: Callable[[], dict[str, Any]], ndoto_home: Path, tmp_path: Path, postgres_server: Any) -> None:
    """From the suite's SQLite database to a new, empty PostgreSQL database."""
    _fill(cli, ready, tmp_path)
    _round_trip(cli, ndoto_home, postgres.empty_database(postgres_server))


def test_copy_refuses_what_it_cannot_do(cli: Cli, ndoto_home: Path) -> None:
    cli("init")
    assert "cannot use" in cli("db", "copy", "--to", "nonsense://", code=1).stderr
    assert "in use" in cli("db", "copy", "--to", os.environ.get("NDOTO_DATABASE_URL") or f"sqlite+aiosqlite:///{ndoto_home / 'ndoto.db'}",
                           code=1).stderr
