# DRAFT written by hand to unblock parallel work: chapter 6's notebook replaces it on export.
"""Layer normalisation and the pre-norm transformer block."""
import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention
from .feedforward import FeedForward

__all__ = ["LayerNorm", "Block"]


class LayerNorm(nn.Module):
    """Normalise each token over its channels, then scale and shift (bias optional)."""

    def __init__(self, n_embd: int, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n_embd))
        self.bias = nn.Parameter(torch.zeros(n_embd)) if bias else None
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, self.eps)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln1(x)), then x + ffn(ln2(x))."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.ln1 = LayerNorm(n_embd, bias)
        self.attn = MultiHeadAttention(n_embd, n_head, block_size, dropout, bias)
        self.ln2 = LayerNorm(n_embd, bias)
        self.ffn = FeedForward(n_embd, dropout, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.ffn(self.ln2(x))
