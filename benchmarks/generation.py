"""Generation speed with and without the KV cache: 512 new tokens in a 512-token
context.

Run by hand (never in CI):

    python benchmarks/generation.py               # the default device
    python benchmarks/generation.py --device cpu --repeats 5

For each model (the course model's layers with a context of 512, and the 128-wide
model), a one-character prompt is extended by 512 tokens with greedy decoding
(temperature 0), once recomputing the whole window for every token and once with the KV
cache; the tokens must be identical. The weights are random: speed does not depend on
them, and greedy decoding makes the comparison exact. The best of `--repeats` runs is
reported.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import torch
from common import MODELS, sync

from gptcore.generation import generate
from gptcore.model import GPT
from gptcore.training import default_device

CONTEXT = 512  # the models' context here, instead of their usual 64


def timed(
    model: GPT, prompt: torch.Tensor, new_tokens: int, use_cache: bool, device: str
) -> tuple[float, torch.Tensor]:
    """Seconds to extend `prompt` greedily by `new_tokens` tokens, and the tokens."""
    sync(device)
    start = time.perf_counter()
    out = generate(model, prompt, new_tokens, temperature=0.0, use_cache=use_cache)
    sync(device)
    return time.perf_counter() - start, out


def main() -> None:
    summary = " ".join(__doc__.split("\n\n")[0].split())  # the first paragraph
    parser = argparse.ArgumentParser(description=summary)
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--new-tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"device {args.device}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}; "
        f"{args.new_tokens} new tokens, context {CONTEXT}, greedy"
    )
    print(
        "| model | no cache tokens/s | KV cache tokens/s | speed-up "
        "| identical tokens |"
    )
    print("| --- | ---: | ---: | ---: | --- |")
    for name, (config, _) in MODELS.items():
        torch.manual_seed(0)
        model = (
            GPT(dataclasses.replace(config, block_size=CONTEXT)).to(args.device).eval()
        )
        prompt = torch.zeros(1, 1, dtype=torch.long, device=args.device)
        (
            timed(model, prompt, 16, False, args.device),
            timed(model, prompt, 16, True, args.device),
        )  # warm up
        best = {}
        outputs = {}
        for _ in range(args.repeats):
            for use_cache in (False, True):
                seconds, outputs[use_cache] = timed(
                    model, prompt, args.new_tokens, use_cache, args.device
                )
                best[use_cache] = min(best.get(use_cache, float("inf")), seconds)
        same = torch.equal(outputs[False], outputs[True])
        rate = {k: args.new_tokens / v for k, v in best.items()}
        print(
            f"| {name} | {rate[False]:,.0f} | {rate[True]:,.0f} "
            f"| {rate[True] / rate[False]:.1f}x | "
            f"{'yes' if same else 'NO'} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
