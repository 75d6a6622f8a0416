# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/02_self_attention_head.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

"""One causal self-attention head: each position takes a learned, data-dependent average of its past."""
import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Head", "check_input"]


def check_input(x: torch.Tensor, n_embd: int, block_size: int) -> None:
    """Raise a ValueError naming the problem unless x is (batch, time, n_embd) with time <= block_size."""
    if x.dim() != 3:
        raise ValueError(f"expected a (batch, time, {n_embd}) tensor of vectors, got shape {tuple(x.shape)}: "
                         "embed token ids first, and add a batch dimension with x.unsqueeze(0) for one sequence.")
    if x.size(-1) != n_embd:
        raise ValueError(f"expected vectors of width n_embd={n_embd}, got width {x.size(-1)} "
                         f"(shape {tuple(x.shape)}): build the module with n_embd={x.size(-1)} or fix the input.")
    if x.size(1) > block_size:
        raise ValueError(f"sequence length {x.size(1)} is longer than block_size={block_size}, the context this "
                         f"module was built for: pass at most the last {block_size} positions, x[:, -{block_size}:].")


class Head(nn.Module):
    """One causal self-attention head: softmax(q k^T / sqrt(head_size), future masked) times v."""

    def __init__(self, n_embd: int, head_size: int, block_size: int, bias: bool = False):
        super().__init__()
        for name, size in [("n_embd", n_embd), ("head_size", head_size), ("block_size", block_size)]:
            if not isinstance(size, int) or size < 1:
                raise ValueError(f"{name} must be a positive integer, got {size!r}")
        self.n_embd, self.head_size, self.block_size = n_embd, head_size, block_size
        self.query = nn.Linear(n_embd, head_size, bias=bias)
        self.key = nn.Linear(n_embd, head_size, bias=bias)
        self.value = nn.Linear(n_embd, head_size, bias=bias)
        self.register_buffer("tril", torch.ones(block_size, block_size, dtype=torch.bool).tril(), persistent=False)

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, T, T) weights: row t is how much position t takes from each position s <= t."""
        check_input(x, self.n_embd, self.block_size)
        T = x.size(1)
        scores = self.query(x) @ self.key(x).transpose(-2, -1) / math.sqrt(self.head_size)
        scores = scores.masked_fill(~self.tril[:T, :T], float("-inf"))
        return F.softmax(scores, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, head_size): each position's weighted sum of the values at or before it."""
        return self.attention_weights(x) @ self.value(x)
