# DRAFT written by hand to unblock parallel work: chapter 4's notebook replaces it on export.
"""The per-token feed-forward network and the plain block."""
import torch
from torch import nn

from .attention import MultiHeadAttention

__all__ = ["FeedForward", "PlainBlock"]


class FeedForward(nn.Module):
    """Expand each token to 4x the width, apply GELU, project back: the 'think' step."""

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.act = nn.GELU(approximate="tanh")
        self.proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.proj(self.act(self.fc(x))))


class PlainBlock(nn.Module):
    """Attention then feed-forward, with no residual connections and no normalisation."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.attn = MultiHeadAttention(n_embd, n_head, block_size, dropout, bias)
        self.ffn = FeedForward(n_embd, dropout, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn(self.attn(x))
