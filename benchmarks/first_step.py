"""How long `gptcore train` takes to reach its first training step, and its peak memory.

Three cases (issue 16): the plays; a generated text file of SIZE megabytes (default
1000, a gigabyte), first with an empty token cache (the file is tokenized into it) and
then again (the cache is reused). Each run is a fresh process; the time is from just
before the process starts to the end of its first step, and the memory is the process's
peak resident set (getrusage). The generated file is the plays repeated, so every run
has the same vocabulary.

Beside each case it times PyTorch's own floor: a fresh process that imports torch,
builds a `torch.optim.AdamW` and takes one step, and nothing of gptcore. The floor and
the case alternate, ROUNDS times, and the medians are printed, so a busy machine slows
both alike; the difference is what gptcore adds (its imports, the corpus, the model).

    python benchmarks/first_step.py              # the plays, and a 1 GB file
    python benchmarks/first_step.py --size 100   # a 100 MB file instead
    python benchmarks/first_step.py --size 0     # the plays only
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import os, sys, time
start = float(sys.argv[1])
import gptcore.training as training
original = training.train_step
def first_step(*args, **kwargs):
    loss = original(*args, **kwargs)
    print(f"first step {time.time() - start:.3f}", flush=True)
    os._exit(0)
training.train_step = first_step
from gptcore.cli import main
main(["train", "--preset", "tiny", "--corpus", sys.argv[2], "--out", sys.argv[3],
      "--no-progress"])
"""

FLOOR = """
import sys, time
start = float(sys.argv[1])
import torch
weight = torch.nn.Parameter(torch.ones(4))
optimizer = torch.optim.AdamW([weight])
(weight * weight).sum().backward()
optimizer.step()
print(f"first step {time.time() - start:.3f}", flush=True)
"""


def timed(code: str, args: list[str], cache: Path) -> float:
    """Seconds from just before a fresh Python process starts to its first step."""
    env = {**os.environ, "GPTCORE_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    start = time.time()
    done = subprocess.run(
        [sys.executable, "-c", code, str(start), *args],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or "first step" not in done.stdout:
        raise SystemExit(f"the run failed:\n{done.stdout}\n{done.stderr}")
    return float(done.stdout.split("first step")[1].split()[0])


def peak_gb() -> float:
    """The largest resident set of any child so far, in GB (ru_maxrss: KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6


def against_floor(corpus: str, cache: Path, out: Path, rounds: int) -> str:
    """Median seconds of `rounds` runs on a filled cache, each after a floor run."""
    runs, floors = [], []
    for i in range(rounds):
        floors.append(timed(FLOOR, [], cache))
        runs.append(timed(CHILD, [corpus, str(out / f"run{i}")], cache))
    run, floor = statistics.median(runs), statistics.median(floors)
    return (
        f"first step after {run:.2f} s (median of {rounds}; "
        f"range {min(runs):.2f} to {max(runs):.2f}), PyTorch's floor {floor:.2f} s, "
        f"gptcore's share {run - floor:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=int, default=1000, help="megabytes of text (0: the plays only)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="runs of each case")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gptcore-first-step-"))
    try:
        from gptcore.data import shakespeare

        cache = work / "cache"
        timed(CHILD, ["plays", str(work / "plays-fill")], cache)  # fills the cache
        plays = against_floor("plays", cache, work, args.rounds)
        print(f"the plays, cache filled:  {plays}")
        if not args.size:
            return
        text = "".join(shakespeare()).encode("utf-8")
        big = work / "big.txt"
        with big.open("wb") as f:  # whole copies: no character cut in two
            for _ in range(max(1, round(args.size * 10**6 / len(text)))):
                f.write(text)
        print(f"generated {big.stat().st_size / 1e6:,.0f} MB of UTF-8 text")
        seconds = timed(CHILD, [str(big), str(work / "big-fill")], cache)
        print(
            f"{args.size} MB, empty cache:   first step after {seconds:.1f} s, "
            f"peak memory {peak_gb():.2f} GB (the largest of all runs so far)"
        )
        filled = against_floor(str(big), cache, work, args.rounds)
        print(f"{args.size} MB, cache filled:  {filled}")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
