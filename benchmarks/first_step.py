"""How long `gptcore train` takes to reach its first training step, and its peak memory.

Three cases (issue 16): the plays; a generated text file of SIZE megabytes (default
1000, a gigabyte), first with an empty token cache (the file is tokenized into it) and
then again (the cache is reused). Each run is a fresh process; the time is from just
before the process starts to the end of its first step, and the memory is the process's
peak resident set (getrusage). The generated file is the plays repeated, so every run
has the same vocabulary.

    python benchmarks/first_step.py              # the plays, and a 1 GB file
    python benchmarks/first_step.py --size 100   # a 100 MB file instead
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
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
    print(f"first step {time.time() - start:.2f}", flush=True)
    os._exit(0)
training.train_step = first_step
from gptcore.cli import main
main(["train", "--preset", "tiny", "--corpus", sys.argv[2], "--out", sys.argv[3],
      "--no-progress"])
"""


def first_step(corpus: str, cache: Path, out: Path) -> tuple[float, float]:
    """(seconds to the end of the first step, peak memory in GB) of one fresh run."""
    env = {**os.environ, "GPTCORE_CACHE": str(cache), "OMP_NUM_THREADS": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.time()
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(start), corpus, str(out)],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0 or "first step" not in done.stdout:
        raise SystemExit(f"the run failed:\n{done.stdout}\n{done.stderr}")
    seconds = float(done.stdout.split("first step")[1].split()[0])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    # The largest of all the runs so far (ru_maxrss of the children is a maximum, in KB
    # on Linux): the big file's first run is the one that could use the most.
    return seconds, max(peak, before) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1000, help="megabytes of text")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gptcore-first-step-"))
    try:
        from gptcore.data import shakespeare

        cache = work / "cache"
        plays = [first_step("plays", cache, work / f"plays{i}") for i in range(3)]
        print(
            "the plays, cache filled:      first step after "
            f"{min(s for s, _ in plays[1:]):.2f} s (best of 2)"
        )
        text = "".join(shakespeare()).encode("utf-8")
        big = work / "big.txt"
        with big.open("wb") as f:  # whole copies: no character cut in two
            for _ in range(max(1, round(args.size * 10**6 / len(text)))):
                f.write(text)
        print(f"generated {big.stat().st_size / 1e6:,.0f} MB of UTF-8 text")
        seconds, peak = first_step(str(big), cache, work / "big1")
        print(
            f"{args.size} MB, empty cache:   first step after {seconds:.1f} s, "
            f"peak memory {peak:.2f} GB"
        )
        seconds, peak = first_step(str(big), cache, work / "big2")
        print(f"{args.size} MB, cache filled:  first step after {seconds:.2f} s")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
