"""The mixture of experts' forward at course size against the dense model with the same
active parameters (chapter 18): the goal is at most 1.5 times the dense model's time.

Run by hand (never in CI):

    python benchmarks/moe_speed.py                 # the default device
    python benchmarks/moe_speed.py --device cpu --repeats 20

Both models are chapter 13's course-size shape (4 blocks, 64 wide, a context of 64,
batch 16); the mixture has 4 SwiGLU experts of hidden width 128 and runs 2 per token,
the dense model one SwiGLU of width 256: the same multiplies per token, plus the
router's. The best of `--repeats` timed forwards (no gradients, eval mode) is reported.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import VOCAB, sync

from gptcore.experts import MoEConfig, MoEGPT, moe_param_count
from gptcore.modern import ModernConfig, ModernGPT
from gptcore.training import default_device

SHAPE = dict(
    vocab_size=VOCAB,
    block_size=64,
    n_layer=4,
    n_head=8,
    n_embd=64,
    bias=False,
    norm="rmsnorm",
    position="rope",
    ffn="swiglu",
)
HIDDEN, N_EXPERTS, TOP_K = 128, 4, 2
GOAL = 1.5  # the mixture's forward may take at most this many times the dense one's


def best_time(model: torch.nn.Module, idx: torch.Tensor, repeats: int) -> float:
    """The fastest of `repeats` forwards, in seconds, after two warm-up forwards."""
    times = []
    with torch.no_grad():
        for i in range(repeats + 2):
            sync(str(idx.device))
            start = time.perf_counter()
            model(idx)
            sync(str(idx.device))
            if i >= 2:
                times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=default_device())
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)
    moe_config = MoEConfig(**SHAPE, ffn_hidden=HIDDEN, n_experts=N_EXPERTS, top_k=TOP_K)
    dense = ModernGPT(ModernConfig(**SHAPE, ffn_hidden=TOP_K * HIDDEN))
    moe = MoEGPT(moe_config)
    total, active = moe_param_count(moe_config)
    idx = torch.randint(0, VOCAB, (args.batch, SHAPE["block_size"]))
    idx = idx.to(args.device)
    times = {}
    for name, model in {"dense, same active": dense, "MoE": moe}.items():
        model.to(args.device).eval()
        times[name] = best_time(model, idx, args.repeats)
    print(f"device {args.device}, batch {args.batch} x {SHAPE['block_size']} tokens")
    print(f"dense: {dense.num_params():,} parameters")
    print(f"MoE: {total:,} parameters, {active:,} active per token")
    for name, seconds in times.items():
        print(f"{name:>20}: {1000 * seconds:7.2f} ms per forward")
    ratio = times["MoE"] / times["dense, same active"]
    verdict = "within" if ratio <= GOAL else "over"
    print(f"MoE / dense = {ratio:.2f} ({verdict} the goal of {GOAL})")


if __name__ == "__main__":
    main()
