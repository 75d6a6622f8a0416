"""Sampling a group of answers in one batch against one answer at a time (issue 24's
goal: a group of 8 answers of up to 32 tokens at least 4x faster than 8 sequential
generations).

Two models of the course's size: the committed chat model (`checkpoints/chat.pt`), on
one of its tasks' prompts, where an answer ends at `<|end|>` after a few tokens; and the
course model with the special tokens added but never tuned, which never writes
`<|end|>`, so every answer is the full 32 tokens. Batched is chapter 17's
`sample_batch` with one KV cache for the group; sequential is chapter 16's `respond`,
called once per answer with a fresh cache. Both sample at temperature 1 from one
seeded generator. The median over the repeats is printed, with the speed-up.

    python benchmarks/group_sampling.py
    OMP_NUM_THREADS=1 python benchmarks/group_sampling.py --group 8 --tokens 32
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

import gptcore
from gptcore.chat import add_special_tokens, respond
from gptcore.generation import KVCache
from gptcore.preferences import prompt_ids, sample_batch

ROOT = Path(__file__).resolve().parents[1]


def median_seconds(action, repeats: int) -> float:
    """The median wall time of action() over repeats, after one warm-up call."""
    action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(name: str, model, tokenizer, args: argparse.Namespace) -> None:
    """Print the batched and sequential times of one model, and the speed-up."""
    ids = prompt_ids(tokenizer, args.prompt)
    generator = torch.Generator().manual_seed(0)
    written = []

    def batched() -> None:
        written[:] = sample_batch(
            model, tokenizer, [ids] * args.group, args.tokens, generator=generator
        )

    def sequential() -> None:
        for _ in range(args.group):
            cache = KVCache(len(model.blocks))
            respond(model, tokenizer, ids, cache, args.tokens, generator=generator)

    one = median_seconds(batched, args.repeats)
    lengths = sorted(len(row) for row in written)
    apart = median_seconds(sequential, args.repeats)
    print(
        f"{name}: answers of {lengths[0]} to {lengths[-1]} tokens; batched "
        f"{1000 * one:.1f} ms, sequential {1000 * apart:.1f} ms: {apart / one:.1f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--prompt", default="How many e in there?")
    args = parser.parse_args()
    torch.manual_seed(0)
    chat, tokenizer = gptcore.load_model(ROOT / "checkpoints" / "chat.pt")
    base, _ = gptcore.load_model(ROOT / "checkpoints" / "course.pt")
    add_special_tokens(base, len(tokenizer.special))
    print(f"a group of {args.group} answers of up to {args.tokens} tokens, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    compare("chat model (stops at <|end|>)", chat, tokenizer, args)
    compare("untuned model (full length)", base.eval(), tokenizer, args)


if __name__ == "__main__":
    main()
