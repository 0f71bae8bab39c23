"""The README speaks for the project: its quickstart runs, and it names every command and setting."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from ndoto_cli.commands.app import app
from ndoto_cli.core.settings import Settings

pytestmark = pytest.mark.once("the README and help texts are the same on any database")

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_quickstart_runs(tmp_path: Path) -> None:
    block = README.split("## Quickstart", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "TMPDIR": str(tmp_path)}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", block], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Hi Jane, Ann here" in result.stdout


def _paths(command: object, prefix: str) -> list[str]:
    sub = getattr(command, "commands", None)
    if not sub:
        return [prefix]
    out = []
    for name, child in sub.items():
        out.extend(_paths(child, f"{prefix} {name}"))
    return out


def test_every_command_is_documented() -> None:
    missing = []
    for path in _paths(typer.main.get_command(app), "ndoto"):
        *group, leaf = path.split(" ")
        documented = path in README or re.search(re.escape(" ".join(group)) + r"[^`\n]*\b" + re.escape(leaf) + r"\b", README)
        if not documented:
            missing.append(path)
    assert not missing, f"README does not document: {missing}"


def test_every_setting_is_documented() -> None:
    """Each setting has its row in the README's table, saying what its docstring says."""
    problems = []
    for name, info in Settings.model_fields.items():
        variable = f"NDOTO_{name.upper()}"
        rows = [line for line in README.splitlines() if line.startswith(f"| `{variable}` |")]
        described = " ".join((info.description or "").replace("``", "`").split())
        if not rows:
            problems.append(f"{variable}: no row")
        elif not described or described not in rows[0]:
            problems.append(f"{variable}: the row does not say {described!r}")
    assert not problems, "README settings table: " + "; ".join(problems)


def test_every_option_says_what_it_does() -> None:
    """``--help`` describes every option, in plain text (no reStructuredText markup)."""
    missing, markup = [], []

    def walk(command: object, path: str) -> None:
        sub = getattr(command, "commands", None)
        if sub:
            for name, child in sub.items():
                walk(child, f"{path} {name}")
            return
        missing.extend(f"{path} {p.opts[0]}" for p in command.params if p.param_type_name == "option" and not p.help)  # type: ignore[attr-defined]
        if "``" in (command.help or ""):  # type: ignore[attr-defined]
            markup.append(path)

    walk(typer.main.get_command(app), "ndoto")
    assert not missing, f"options without help: {missing}"
    assert not markup, f"help with ``markup``: {markup}"


def test_the_tools_example_runs(tmp_path: Path) -> None:
    """The README's "Give an AI agent tools" block, on a fresh home with an AI bot named Helper."""
    block = README.split("### Give an AI agent tools", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "NDOTO_HOME": str(tmp_path / "home")}
    env.pop("NDOTO_PRIVATE_ALLOWLIST", None)
    setup = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT\nndoto init >/dev/null\nndoto bots create --type ai --name Helper >/dev/null 2>&1\n"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", setup + block], capture_output=True, text=True, env=env, timeout=300,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Authorization: [secret]" in result.stdout and "demo-orders-token" not in result.stdout
    assert 'the model reads: {"id": "4521", "status": "shipped"' in result.stdout
    assert '"secret_set": true' in result.stdout


def test_the_readmes_scenario_file_is_read_as_written() -> None:
    """The YAML of "Test an agent before customers do" is a valid scenario file, read as it says."""
    from ndoto_cli.core.ai import scenarios

    block = re.search(r"```yaml\n(.*?)```", README, re.DOTALL)
    assert block is not None
    (scenario,) = scenarios.load("README.yaml", block.group(1))
    (turn,) = scenario.turns
    assert scenario.never_handoff and scenario.doubles["order_status"]["status"] == 200
    assert turn.expect.calls == (("order_status", {"order_id": "4521"}),) and turn.expect.mention == ("shipped",)
    assert turn.expect.handoff is False and turn.expect.judge
