"""CLI fixtures: Typer's runner on the real app with a temp NDOTO_HOME."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ndoto_cli.commands.app import app


class Cli:
    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Any:
        result = self.runner.invoke(app, list(args))
        assert result.exit_code == code, f"ndoto {' '.join(args)} -> {result.exit_code}\n{result.stdout}\n{result.stderr}"
        assert "Traceback" not in result.stdout + result.stderr
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)


@pytest.fixture
def cli(ndoto_home: Path) -> Cli:
    return Cli()


@pytest.fixture
def ready(cli: Cli) -> Callable[[], dict[str, Any]]:
    """init + a web inbox + a webhook bot assigned to it."""

    def make() -> dict[str, Any]:
        boot = cli.json("init", "--account-name", "Acme Support", "--email", "admin@acme.test")
        inbox = cli.json("inboxes", "create", "--name", "Website Chat", "--channel", "web_widget")
        bot = cli.json("bots", "create", "--name", "OrderBot", "--url", "https://127.0.0.1:9/webhook")
        cli("inbox", "assign", "OrderBot", "Website Chat")
        return {"admin_token": boot["access_token"], "inbox": inbox, "bot": bot}

    return make
