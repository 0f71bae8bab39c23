"""The core imports no front end or LLM library; `ndoto --version` stays light."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import ndoto_cli.core

pytestmark = pytest.mark.once("what a command imports does not depend on the database")

FORBIDDEN = ("typer", "textual", "fastapi", "uvicorn", "rich", "litellm", "click")


def _core_modules() -> list[str]:
    names = ["ndoto_cli.core"]
    for info in pkgutil.walk_packages(ndoto_cli.core.__path__, "ndoto_cli.core."):
        names.append(info.name)
    return names


def test_core_imports_no_front_end_library() -> None:
    modules = _core_modules()
    assert "ndoto_cli.core.services.messages" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core pulled in: {out.stdout.strip()}"


def test_version_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['ndoto', '--version']\n"
        "from ndoto_cli.__main__ import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = sorted(m for m in ('litellm', 'textual', 'uvicorn', 'fastapi', 'sqlmodel') if m in sys.modules)\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "ndoto 0." in out.stdout
    assert "HEAVY=\n" in out.stdout + "\n" and out.stdout.strip().endswith("HEAVY="), out.stdout
