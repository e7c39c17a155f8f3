"""How fast commands start: ``dslnas --help`` and ``dslnas <command> --help``, median of 5 runs each.

    .venv/bin/python bench/cli_startup.py

Each command imports what it uses when it runs (``search/cli/__init__.py``); the layout test guards the
imports, this bench prints the seconds (wall time of a fresh process, so the interpreter start is in it).
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPEATS = 5


def _dslnas() -> list[str]:
    exe = Path(sys.executable).with_name("dslnas")
    return [str(exe)] if exe.exists() else [shutil.which("dslnas") or "dslnas"]


def median_s(argv: list[str]) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    from dslnas.search.cli import COMMANDS

    base = _dslnas()
    print(f"{'command':<28} median of {REPEATS} (s)")
    print(f"{'dslnas --help':<28} {median_s([*base, '--help']):.2f}")
    for name in COMMANDS:
        print(f"{'dslnas ' + name + ' --help':<28} {median_s([*base, name, '--help']):.2f}")


if __name__ == "__main__":
    main()
