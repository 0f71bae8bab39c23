"""Debian's Chromium for the browser tests: found, or installed from Debian's packages, and
launched by Playwright so that it talks to this machine only."""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

CANDIDATES = ("chromium", "chromium-browser")
# Playwright's own browser download cannot work here (and is not needed): the system's Chromium.
ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--dns-prefetch-disable",
    # Every name but this machine's fails inside the browser, before any query leaves it.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]


def chromium() -> str:
    """The path of Debian's Chromium, installing the package when it is missing (CI's clean
    machine); a clear error when that cannot be done."""
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    sudo: list[str] = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]):
        done = subprocess.run([*sudo, *step], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            raise RuntimeError(f"installing Debian's chromium failed ({' '.join(step)}):\n{done.stderr[-2000:]}")
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("apt-get installed chromium but no chromium binary is on PATH")


def launch(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=chromium(), args=ARGS, headless=True)
