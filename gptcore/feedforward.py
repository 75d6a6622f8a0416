# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/04_transformer_block.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

"""The per-token feed-forward network, and the plain transformer block: attention (talk), then FFN (think)."""
import torch
from torch import nn

from gptcore.attention import MultiHeadAttention

__all__ = ["FeedForward", "PlainBlock"]


class FeedForward(nn.Module):
    """Per-token MLP: widen to 4 * n_embd, GELU (tanh form, as GPT-2), project back; the block's 'think' step."""

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if not isinstance(n_embd, int) or n_embd < 1:
            raise ValueError(f"n_embd must be a positive integer, got {n_embd!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout is a probability in [0, 1), got {dropout!r}")
        self.n_embd = n_embd
        self.fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.act = nn.GELU(approximate="tanh")
        self.proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n_embd) -> (..., n_embd): every position processed on its own, with the same weights."""
        if x.dim() == 0 or x.size(-1) != self.n_embd:
            raise ValueError(f"expected vectors of width {self.n_embd} in the last dimension, got shape "
                             f"{tuple(x.shape)}: the input must be (..., n_embd)")
        return self.drop(self.proj(self.act(self.fc(x))))


class PlainBlock(nn.Module):
    """Attention (talk) then feed-forward (think), with no residual connections and no normalisation."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.attn = MultiHeadAttention(n_embd, n_head, block_size, dropout, bias)
        self.ffn = FeedForward(n_embd, dropout, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, n_embd): tokens gather context, then each processes what it gathered."""
        return self.ffn(self.attn(x))
