"""Run every benchmark in this folder and print its figures (``make bench``).

Each script measures its subject and a ceiling in the same run: this machine's speed drifts,
so figures are only comparable within one run.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    failed = 0
    for script in sorted(HERE.glob("*.py")):
        if script.name in ("run.py", "soak.py", "__init__.py") or script.name.startswith("_"):  # soak: `make soak`
            continue
        print(f"== {script.stem}", flush=True)
        failed += subprocess.call([sys.executable, str(script)]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
