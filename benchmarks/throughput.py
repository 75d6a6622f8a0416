"""Training throughput (tokens/s) and model FLOPs utilisation (MFU) against this
machine's measured matmul peak.

Run by hand (never in CI), on an otherwise idle machine:

    python benchmarks/throughput.py  # the default device (cuda > mps > cpu),
                                     # with and without --compile
    python benchmarks/throughput.py --device cpu --no-compile --steps 20

For each model it times full training steps (forward, backward, gradient clipping,
AdamW), as gptcore.training.train takes them, and prints a table. MFU is the model's
training FLOPs per second, 6 N + 12 L C T per token (N: the parameters that multiply, L
layers, width C, context T; PaLM's appendix B), divided by the peak: the best float32
matmul rate measured here on large square matrices.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import MODELS, VOCAB, sync, training_step

from gptcore.model import GPT, GPTConfig
from gptcore.training import default_device


def matmul_peak(device: str, n: int | None = None, repeats: int = 10) -> float:
    """The best float32 FLOP/s of an n x n matmul on this device (n: 2048 on a CPU, 8192
    on a GPU)."""
    n = n or (2048 if device == "cpu" else 8192)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(repeats + 2):
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def flops_per_token(config: GPTConfig) -> float:
    """Training FLOPs per token: 6 per multiplying parameter, plus attention's 12 L C T
    (PaLM, appendix B)."""
    model = GPT(config)
    lookups = model.embed.token.weight.numel() + model.embed.position.weight.numel()
    n = sum(p.numel() for p in model.parameters()) - lookups
    if config.tie_weights:
        n += model.lm_head.weight.numel()
    return 6 * n + 12 * config.n_layer * config.n_embd * config.block_size


def step_time(
    config: GPTConfig, batch_size: int, device: str, steps: int, compile: bool
) -> tuple[float, float]:
    """Median seconds per training step after warm-up, and the seconds the warm-up (and
    compilation) took."""
    torch.manual_seed(0)
    model = GPT(config).to(device)
    x = torch.randint(VOCAB, (batch_size, config.block_size), device=device)
    y = torch.randint(VOCAB, (batch_size, config.block_size), device=device)
    step = training_step(model, x, y, torch.compile(model) if compile else None)

    sync(device)
    start = time.perf_counter()
    for _ in range(5):
        step()
    sync(device)
    warm_up = time.perf_counter() - start
    times = []
    for _ in range(steps):
        sync(device)
        start = time.perf_counter()
        step()
        sync(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], warm_up


def main() -> None:
    summary = " ".join(__doc__.split("\n\n")[0].split())  # the first paragraph
    parser = argparse.ArgumentParser(description=summary)
    parser.add_argument("--device", default=default_device())
    parser.add_argument(
        "--steps",
        type=int,
        default=30,
        help="timed steps per model (the median is reported)",
    )
    parser.add_argument(
        "--no-compile", action="store_true", help="skip the torch.compile rows"
    )
    args = parser.parse_args()
    peak = matmul_peak(args.device)
    print(
        f"device {args.device}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; "
        f"measured float32 matmul peak {peak / 1e9:,.1f} GFLOP/s"
    )
    print("| model | batch | compiled | first 5 steps, s | ms/step | tokens/s | MFU |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    for name, (config, recipe) in MODELS.items():
        batch_size = recipe.batch_size
        for compile in [False] if args.no_compile else [False, True]:
            seconds, warm_up = step_time(
                config, batch_size, args.device, args.steps, compile
            )
            tokens = batch_size * config.block_size / seconds
            mfu = tokens * flops_per_token(config) / peak
            print(
                f"| {name} | {batch_size} x {config.block_size} "
                f"| {'yes' if compile else 'no'} | {warm_up:.1f} | "
                f"{seconds * 1e3:.1f} | {tokens:,.0f} | {mfu:.1%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
