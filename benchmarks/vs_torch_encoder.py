"""gptcore's training step against the same-sized model built from
torch.nn.TransformerEncoderLayer.

Run by hand (never in CI):

    python benchmarks/vs_torch_encoder.py              # the default device
    python benchmarks/vs_torch_encoder.py --device cpu --rounds 40

Both models have the same embeddings, the same pre-norm blocks (width C, 4C
feed-forward, GELU, causal self-attention, no dropout), the same final layer norm and
vocabulary layer, and the same parameter count. The steps are timed interleaved (one of
each per round, the order alternating), so a change in the machine's load affects both
alike; the table gives the median step time of each and their ratio.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from common import MODELS, VOCAB, sync, training_step
from torch import nn

from gptcore.model import GPT, GPTConfig
from gptcore.training import default_device


class TorchGPT(nn.Module):
    """The GPT's architecture with PyTorch's own pre-norm nn.TransformerEncoderLayer as
    the block."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        c = config
        self.token, self.position = (
            nn.Embedding(c.vocab_size, c.n_embd),
            nn.Embedding(c.block_size, c.n_embd),
        )
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(
                c.n_embd,
                c.n_head,
                4 * c.n_embd,
                dropout=0.0,
                activation=nn.GELU(approximate="tanh"),
                batch_first=True,
                norm_first=True,
            )
            for _ in range(c.n_layer)
        )
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.register_buffer(
            "mask",
            nn.Transformer.generate_square_subsequent_mask(c.block_size),
            persistent=False,
        )

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        T = idx.size(1)
        x = self.token(idx) + self.position(torch.arange(T, device=idx.device))
        for block in self.blocks:
            x = block(x, src_mask=self.mask[:T, :T], is_causal=True)
        logits = self.lm_head(self.ln_f(x))
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def main() -> None:
    summary = " ".join(__doc__.split("\n\n")[0].split())  # the first paragraph
    parser = argparse.ArgumentParser(description=summary)
    parser.add_argument("--device", default=default_device())
    parser.add_argument(
        "--rounds",
        type=int,
        default=40,
        help="timed rounds (one step of each model per round)",
    )
    args = parser.parse_args()
    print(
        f"device {args.device}, {torch.get_num_threads()} threads, "
        f"torch {torch.__version__}"
    )
    print(
        "| model | batch | parameters (gptcore / torch) | gptcore ms/step "
        "| torch ms/step | gptcore / torch |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, (config, recipe) in MODELS.items():
        batch_size = recipe.batch_size
        torch.manual_seed(0)
        ours, theirs = GPT(config).to(args.device), TorchGPT(config).to(args.device)
        x = torch.randint(VOCAB, (batch_size, config.block_size), device=args.device)
        y = torch.randint(VOCAB, (batch_size, config.block_size), device=args.device)
        steps = {
            "gptcore": training_step(ours, x, y),
            "torch": training_step(theirs, x, y),
        }
        times: dict[str, list[float]] = {"gptcore": [], "torch": []}
        for round in range(args.rounds + 5):
            for which in (
                ["gptcore", "torch"] if round % 2 == 0 else ["torch", "gptcore"]
            ):
                sync(args.device)
                start = time.perf_counter()
                steps[which]()
                sync(args.device)
                if round >= 5:  # the first rounds warm up
                    times[which].append(time.perf_counter() - start)
        median = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
        counts = [sum(p.numel() for p in m.parameters()) for m in (ours, theirs)]
        print(
            f"| {name} | {batch_size} x {config.block_size} "
            f"| {counts[0]:,} / {counts[1]:,} | "
            f"{median['gptcore'] * 1e3:.1f} | {median['torch'] * 1e3:.1f} | "
            f"{median['gptcore'] / median['torch']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
