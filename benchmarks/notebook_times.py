"""The wall time of each chapter notebook under nbval, against its budget
(CONTRIBUTING.md, "Time budgets").

Run by hand (never in CI), from the repository root, on an otherwise idle machine:

    python benchmarks/notebook_times.py  # every chapter, one thread (as a CI worker)
    python benchmarks/notebook_times.py --threads 2 chapters/09_training.ipynb

Each notebook runs in its own `pytest chapters/NN_name.ipynb` (nbval, strict, the
project's pytest settings), one after another, with OMP_NUM_THREADS set to --threads: CI
runs `pytest -n 2`, whose two workers use one thread each. The table gives the seconds,
the budget, and whether pytest passed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGETS = {
    "02": 30,
    "03": 30,
    "09": 240,
    "13": 90,
    "14": 240,
    "15": 100,
    "16": 120,
    "17": 150,
    "18": 120,
    "19": 120,
}  # seconds; else 60
DEFAULT_BUDGET = 60


def main() -> int:
    summary = " ".join(__doc__.split("\n\n")[0].split())  # the first paragraph
    parser = argparse.ArgumentParser(description=summary)
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="default: every chapters/NN_*.ipynb"
    )
    parser.add_argument(
        "--threads", default="1", help="OMP_NUM_THREADS for the notebooks (default: 1)"
    )
    args = parser.parse_args()
    notebooks = args.notebooks or sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    env = {**os.environ, "OMP_NUM_THREADS": args.threads}
    print(
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
        f"OMP_NUM_THREADS={args.threads}"
    )
    print(
        "| notebook | seconds | budget | within | pytest |\n"
        "| --- | ---: | ---: | --- | --- |"
    )
    failures = 0
    for path in notebooks:
        path = path.resolve()
        budget = BUDGETS.get(path.name[:2], DEFAULT_BUDGET)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", str(path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        failures += done.returncode != 0 or seconds > budget
        print(
            f"| {path.relative_to(ROOT)} | {seconds:.0f} | {budget} "
            f"| {'yes' if seconds <= budget else 'NO'} | "
            f"{'passed' if done.returncode == 0 else 'FAILED'} |",
            flush=True,
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
