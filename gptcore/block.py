# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/06_layer_normalization.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

"""Layer normalisation and the pre-norm transformer block, GPT-2's block: x + attn(ln1(x)), x + ffn(ln2(x))."""
import torch
import torch.nn.functional as F
from torch import nn

from gptcore.attention import MultiHeadAttention
from gptcore.feedforward import FeedForward

__all__ = ["LayerNorm", "Block"]


class LayerNorm(nn.Module):
    """Normalise each token over its channels to mean 0, variance 1, then scale by weight and shift by bias."""

    def __init__(self, n_embd: int, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        if not isinstance(n_embd, int) or n_embd < 1:
            raise ValueError(f"n_embd must be a positive integer, got {n_embd!r}")
        self.n_embd, self.eps = n_embd, eps
        self.weight = nn.Parameter(torch.ones(n_embd))
        self.bias = nn.Parameter(torch.zeros(n_embd)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n_embd) -> (..., n_embd): every token normalised on its own, in one fused kernel."""
        if x.dim() == 0 or x.size(-1) != self.n_embd:
            raise ValueError(f"expected vectors of width {self.n_embd} in the last dimension, got shape "
                             f"{tuple(x.shape)}: the input must be (..., n_embd)")
        return F.layer_norm(x, (self.n_embd,), self.weight, self.bias, self.eps)


class Block(nn.Module):
    """GPT-2's pre-norm transformer block: x + attn(ln1(x)), then x + ffn(ln2(x))."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.ln1 = LayerNorm(n_embd, bias=bias)
        self.attn = MultiHeadAttention(n_embd, n_head, block_size, dropout, bias)
        self.ln2 = LayerNorm(n_embd, bias=bias)
        self.ffn = FeedForward(n_embd, dropout, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, n_embd): each sublayer reads a normalised copy of the stream and adds to it."""
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))
