"""One causal self-attention head: each position takes a learned, data-dependent average
of its past."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/02_self_attention_head.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/02_self_attention_head.ipynb 26
import math

import torch
import torch.nn.functional as F
from torch import nn

from gptcore.checks import check_positive_int, check_vectors


class Head(nn.Module):
    """One causal self-attention head: softmax(q k^T / sqrt(head_size), future masked)
    times v."""

    def __init__(
        self, n_embd: int, head_size: int, block_size: int, bias: bool = False
    ):
        super().__init__()
        for name, size in [
            ("n_embd", n_embd),
            ("head_size", head_size),
            ("block_size", block_size),
        ]:
            check_positive_int(name, size)
        self.n_embd, self.head_size, self.block_size = n_embd, head_size, block_size
        self.query = nn.Linear(n_embd, head_size, bias=bias)
        self.key = nn.Linear(n_embd, head_size, bias=bias)
        self.value = nn.Linear(n_embd, head_size, bias=bias)
        self.register_buffer(
            "tril",
            torch.ones(block_size, block_size, dtype=torch.bool).tril(),
            persistent=False,
        )

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """The (B, T, T) weights: row t is how much position t takes from each position
        s <= t."""
        check_vectors(x, self.n_embd, self.block_size)
        T = x.size(1)
        scores = (
            self.query(x) @ self.key(x).transpose(-2, -1) / math.sqrt(self.head_size)
        )
        scores = scores.masked_fill(~self.tril[:T, :T], float("-inf"))
        return F.softmax(scores, dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, head_size): each position's weighted sum of the
        values at or before it."""
        return self.attention_weights(x) @ self.value(x)


# The public names above, computed by scripts/export.py.
__all__ = ["Head"]
