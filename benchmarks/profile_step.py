"""Where a training step's milliseconds go: the course model's step under
torch.profiler.

Run by hand (never in CI), from the repository root, on an otherwise idle machine:

    OMP_NUM_THREADS=1 python benchmarks/profile_step.py
    OMP_NUM_THREADS=1 python benchmarks/profile_step.py --steps 50 \
        --out benchmarks/profile_step.txt

It builds the course model (preset "course", the plays' vocabulary, the recipe's batch
of 16 x 64 tokens) and its optimizer (gptcore.training.make_optimizer), takes a few
warm-up steps, then profiles `--steps` full training steps (gptcore.training.train_step:
forward, backward, gradient clipping, AdamW) on the CPU. It prints the operators sorted
by their own CPU time (`key_averages().table(sort_by="self_cpu_time_total")`), then the
milliseconds per step and tokens per second of the same steps timed without the
profiler. `--out FILE` also writes the table to FILE.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import VOCAB, training_step
from torch.profiler import ProfilerActivity, profile

from gptcore.model import GPT
from gptcore.training import preset_configs


def build(preset: str = "course", seed: int = 0):
    """The preset's model, its recipe, a fixed random batch, and its training step."""
    config, recipe = preset_configs(preset, VOCAB)
    torch.manual_seed(seed)
    model = GPT(config)
    model.train()
    shape = (recipe.batch_size, config.block_size)
    x, y = torch.randint(VOCAB, shape), torch.randint(VOCAB, shape)
    return model, recipe, x, y, training_step(model, x, y, recipe=recipe)


def main() -> None:
    summary = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(description=summary)
    parser.add_argument("--preset", default="course")
    parser.add_argument("--steps", type=int, default=30, help="profiled steps")
    parser.add_argument("--warmup", type=int, default=10, help="steps before")
    parser.add_argument("--rows", type=int, default=20, help="rows of the table")
    parser.add_argument("--out", help="also write the table to this file")
    args = parser.parse_args()

    model, recipe, x, y, step = build(args.preset)
    tokens = x.numel()
    for _ in range(args.warmup):
        step()

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    table = prof.key_averages().table(
        sort_by="self_cpu_time_total", row_limit=args.rows
    )

    times = []  # the same steps, without the profiler's overhead
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    median = sorted(times)[len(times) // 2]

    header = (
        f"preset {args.preset}: batch {tuple(x.shape)} = {tokens} tokens per step, "
        f"{sum(p.numel() for p in model.parameters()):,} parameters; "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
        f"{args.steps} profiled steps"
    )
    footer = (
        f"unprofiled: {median * 1e3:.2f} ms per step (median of {args.steps}), "
        f"{tokens / median:,.0f} tokens/s"
    )
    print(header, table, footer, sep="\n")
    if args.out:
        with open(args.out, "w") as f:
            f.write(f"{header}\n{table}\n{footer}\n")


if __name__ == "__main__":
    main()
