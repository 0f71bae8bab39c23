"""How long common commands take, each beside ``ndoto --version`` in the same run (medians of
several runs of the real ``ndoto`` process on a seeded SQLite home), with the target (2x
``--version``) and the floor any command that opens the database pays today: importing
SQLAlchemy's asyncio ORM, SQLModel and the models.
Run: ``.venv/bin/python benchmarks/cli.py [--runs N]``."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NDOTO = [sys.executable, "-m", "ndoto_cli"]
COMMANDS = [
    ["--version"],
    ["inboxes", "list"],
    ["bots", "list"],
    ["conversations", "list"],
    ["conversations", "show", "1"],
    ["deliveries", "list"],
    ["db", "info"],
]
FLOOR = [sys.executable, "-c", "import typer, sqlalchemy.ext.asyncio, sqlmodel, pydantic_settings, ndoto_cli.core.models"]


def timed(cmd: list[str], env: dict[str, str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(cmd, check=False, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed: {done.stderr}")
    return statistics.median(times) * 1000


def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NDOTO_HOME": str(Path(tmp) / "home")}
        env.pop("NDOTO_DATABASE_URL", None)
        for args in (["init"], ["inboxes", "create", "--name", "Website Chat", "--channel", "web_widget"],
                     ["bots", "create", "--name", "OrderBot", "--url", "https://127.0.0.1:9/h"], ["inbox", "assign", "OrderBot", "Website Chat"],
                     ["say", "--inbox", "Website Chat", "--contact", "Jane", "Where is my order?"]):
            subprocess.run([*NDOTO, *args], env=env, check=True, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        results = [(" ".join(args), timed([*NDOTO, *args], env, runs)) for args in COMMANDS]
        floor = timed(FLOOR, env, runs)
    version = results[0][1]
    print(f"medians of {runs} runs; target: within 2x `ndoto --version` ({2 * version:.0f} ms)")
    for name, ms in results:
        print(f"  ndoto {name:<24} {ms:6.0f} ms  {ms / version:4.1f}x --version")
    print(f"  import floor (SQLAlchemy asyncio ORM + SQLModel + models) {floor:.0f} ms  {floor / version:4.1f}x --version")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    main(parser.parse_args().runs)
