"""`gptcore train` against nanoGPT's train.py, as whole processes, on one configuration.

nanoGPT is not part of this project: clone it yourself (github.com/karpathy/nanoGPT) and
pass its folder. The script writes the plays into nanoGPT's shakespeare_char data folder
as its input.txt (so its prepare.py downloads nothing), prepares it, and then times the
two commands in turn, ROUNDS times each, alternating: the course model (4 blocks of 8
heads, 64 wide, a context of 64, batch 16, no dropout, biases) for STEPS steps on the
CPU, each evaluating at its end on 20 batches. It prints each command's median wall
time and the median of the paired ratios (gptcore / nanoGPT: below 1 is faster).

    python benchmarks/vs_nanogpt.py --nanogpt ~/src/nanoGPT
    python benchmarks/vs_nanogpt.py --nanogpt ~/src/nanoGPT --steps 1   # start-up only
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gptcore.data import shakespeare
from gptcore.training import TrainConfig


def nanogpt_command(folder: Path, out: Path, steps: int) -> list[str]:
    """nanoGPT's train.py on the course model and recipe, on the CPU, uncompiled."""
    recipe = TrainConfig()
    settings = dict(
        device="cpu",
        compile=False,
        dtype="float32",
        n_layer=4,
        n_head=8,
        n_embd=64,
        block_size=64,
        batch_size=recipe.batch_size,
        dropout=0.0,
        bias=True,
        learning_rate=recipe.lr,
        min_lr=recipe.min_lr,
        warmup_iters=min(recipe.warmup_steps, steps),
        lr_decay_iters=steps,
        max_iters=steps,
        eval_interval=steps,
        eval_iters=recipe.eval_batches,
        log_interval=steps,
        weight_decay=recipe.weight_decay,
        always_save_checkpoint=False,
        out_dir=str(out),
    )
    flags = [f"--{key}={value}" for key, value in settings.items()]
    return [sys.executable, "train.py", "config/train_shakespeare_char.py", *flags]


def gptcore_command(out: Path, steps: int) -> list[str]:
    """`gptcore train --preset course` for the same steps, evaluating at the end."""
    return [
        *(sys.executable, "-m", "gptcore", "train", "--preset", "course"),
        *("--steps", str(steps), "--eval-interval", str(steps), "--no-progress"),
        *("--warmup-steps", str(min(TrainConfig().warmup_steps, steps))),
        *("--device", "cpu", "--out", str(out)),
    ]


def seconds(command: list[str], cwd: Path, env: dict) -> float:
    """The wall time of one run of a command, which must succeed."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - start


def prepare(nanogpt: Path) -> None:
    """nanoGPT's shakespeare_char data, made from the plays instead of a download."""
    data = nanogpt / "data" / "shakespeare_char"
    train_text, val_text = shakespeare()
    (data / "input.txt").write_text(train_text + val_text, encoding="utf-8")
    subprocess.run([sys.executable, "prepare.py"], cwd=data, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanogpt", type=Path, required=True, help="a nanoGPT clone")
    parser.add_argument("--steps", type=int, default=200, help="training steps")
    parser.add_argument("--rounds", type=int, default=5, help="runs of each command")
    args = parser.parse_args()
    nanogpt = args.nanogpt.expanduser().resolve()
    if not (nanogpt / "train.py").is_file():
        raise SystemExit(f"no train.py in {nanogpt}: pass a clone of nanoGPT")
    prepare(nanogpt)
    work = Path(tempfile.mkdtemp(prefix="gptcore-vs-nanogpt-"))
    env = {**os.environ, "GPTCORE_CACHE": str(work / "cache")}
    ours, theirs = [], []
    try:
        seconds(
            gptcore_command(work / "warm", args.steps), work, env
        )  # fills the cache
        for i in range(args.rounds):
            theirs.append(
                seconds(
                    nanogpt_command(nanogpt, work / f"n{i}", args.steps), nanogpt, env
                )
            )
            ours.append(seconds(gptcore_command(work / f"g{i}", args.steps), work, env))
    finally:
        shutil.rmtree(work)
    ratios = [a / b for a, b in zip(ours, theirs)]
    print(f"{args.steps} steps, {args.rounds} alternating runs of each, wall seconds:")
    print(f"  gptcore train: median {statistics.median(ours):.2f} s")
    print(f"  nanoGPT train.py: median {statistics.median(theirs):.2f} s")
    print(f"  gptcore / nanoGPT: median ratio {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
