"""Start a real ``ndoto serve`` subprocess on a free port and read what it prints."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass
class Served:
    process: subprocess.Popen[str]
    base_url: str
    token: str | None
    output: list[str]

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait()
        return self.process.returncode


def start_serve(home: Path, *, extra_env: dict[str, str] | None = None, args: list[str] | None = None, port: int = 0) -> Served:
    """``port``: 0 picks a free one; a fixed one lets a restarted server keep its address."""
    env = {**os.environ, "NDOTO_HOME": str(home), "PYTHONUNBUFFERED": "1", **(extra_env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "ndoto_cli", "serve", "--port", str(port), *(args or [])],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, stdin=subprocess.DEVNULL,
    )
    lines: list[str] = []
    base = token = None
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise AssertionError("ndoto serve exited:\n" + "".join(lines))
            continue
        lines.append(line)
        if m := re.search(r"Ndoto API\s+(\S+)", line):
            base = m.group(1)
        if m := re.search(r"access token:\s*(\S+)", line):
            token = m.group(1)
        if "Press Ctrl-C" in line:
            break
    assert base, "".join(lines)
    served = Served(proc, base, token, lines)
    # Ready when /health answers.
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1, verify=False).status_code == 200:
                return served
        except httpx.HTTPError:
            time.sleep(0.1)
    served.stop(signal.SIGKILL)
    raise AssertionError("ndoto serve did not become ready")
