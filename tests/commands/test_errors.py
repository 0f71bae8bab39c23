"""Bad input: one clear line on stderr, a non-zero exit, never a traceback; --json envelopes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.commands.conftest import Cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("bots", "create", "--name", "X", "--url", "http://example.com/h"), "must use https"),
        (("bots", "create", "--name", "X", "--url", "https://"), "malformed URL"),
        (("bots", "create", "--name", "X", "--url", "notaurl"), "malformed URL"),
        (("bots", "create", "--type", "ai", "--name", "X", "--temperature", "1.5"), "temperature must be between 0 and 1"),
        (("bots", "create", "--type", "ai", "--name", "X", "--max-exchanges", "0"), "max exchanges must be at least 1"),
        (("bots", "show", "Nobody"), "no bot named 'Nobody'"),
        (("inboxes", "show", "Nowhere"), "no inbox named 'Nowhere'"),
        (("conversations", "show", "42"), "conversation 42 not found"),
        (("bots", "create", "--name", "Dup", "--url", "https://127.0.0.1:9/h"), "already exists"),
    ],
)
def test_bad_input_is_one_clear_line(cli: Cli, args: tuple[str, ...], message: str) -> None:
    cli("init")
    cli("bots", "create", "--name", "Dup", "--url", "https://127.0.0.1:9/h")
    result = cli(*args, code=1)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], result.stderr
    envelope = json.loads(cli(*args, "--json", code=1).stdout)
    assert message in envelope["error"]["message"] and envelope["error"]["code"]


def test_inbox_and_bot_names_are_unique_in_their_account(cli: Cli) -> None:
    cli("init")
    cli("inboxes", "create", "--name", "Web")
    err = cli("inboxes", "create", "--name", "Web", code=1).stderr
    assert "an inbox named 'Web' already exists" in err
    cli("inboxes", "create", "--name", "Shop")
    assert "already exists" in cli("inboxes", "update", "Shop", "--name", "Web", code=1).stderr
    cli("bots", "create", "--name", "B", "--url", "https://127.0.0.1:9/h")
    assert "a bot named 'B' already exists" in cli("bots", "create", "--name", "B", "--url", "https://127.0.0.1:9/h", code=1).stderr
    assert cli.json("inboxes", "show", "Web")["name"] == "Web"


def test_usage_errors_exit_2(cli: Cli) -> None:
    cli("bots", "create", code=2)  # missing --name
    cli("inboxes", "create", "--name", "X", "--channel", "fax", code=2)


def test_commands_need_init_first(cli: Cli) -> None:
    err = cli("inboxes", "list", code=1).stderr
    assert "ndoto init" in err


def _run(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NDOTO_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "ndoto_cli", *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)


def test_real_process_round_trip(tmp_path: Path) -> None:
    home = tmp_path / "h"
    boot = json.loads(_run(["init", "--json"], home).stdout)
    assert boot["access_token"].startswith("ndu_")
    bad = _run(["bots", "create", "--name", "X", "--url", "ftp://x"], home)
    assert bad.returncode == 1 and bad.stderr.startswith("Error: ") and "Traceback" not in bad.stderr
    assert _run(["nonsense"], home).returncode == 2
    assert _run(["--version"], home).stdout.startswith("ndoto ")


def test_a_bad_setting_is_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "NDOTO_HOME": str(tmp_path / "h"), "NDOTO_DELIVERY_MAX_ATTEMPTS": "lots", "NDOTO_PORT": "99999"}
    for args in (["accounts", "list"], ["serve"], ["worker"], ["tui"]):
        out = subprocess.run([sys.executable, "-m", "ndoto_cli", *args], capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL)
        assert out.returncode == 1, (args, out.stderr)
        assert "Traceback" not in out.stderr
        (line,) = out.stderr.splitlines()
        assert "NDOTO_DELIVERY_MAX_ATTEMPTS='lots'" in line and "NDOTO_PORT='99999'" in line
    with_json = subprocess.run([sys.executable, "-m", "ndoto_cli", "accounts", "list", "--json"], capture_output=True, text=True, env=env)
    assert json.loads(with_json.stdout)["error"]["code"] == "invalid"


def test_help_is_fast_and_light(tmp_path: Path) -> None:
    """Help never imports the heavy libraries (measured as modules loaded, not as time)."""
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ndoto_cli.commands.app import app\n"
        "r = CliRunner()\n"
        "for args in ([], ['bots'], ['bots', 'create'], ['serve'], ['conversations', 'list'], ['deliveries', 'retry']):\n"
        "    res = r.invoke(app, args + ['--help'])\n"
        "    assert res.exit_code == 0, (args, res.stdout)\n"
        "    assert 'Example' in res.stdout or not args, args\n"
        "heavy = [m for m in ('litellm', 'textual', 'uvicorn', 'fastapi', 'sqlmodel', 'sqlalchemy') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "NDOTO_HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout
