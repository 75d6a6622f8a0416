# DRAFT written by hand to unblock parallel work: chapter 3's notebook replaces it on export.
"""Causal multi-head self-attention."""
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["MultiHeadAttention"]


class MultiHeadAttention(nn.Module):
    """Causal self-attention with n_head heads: one fused qkv projection, heads as a tensor dimension."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if n_embd % n_head != 0:
            raise ValueError(f"n_embd={n_embd} is not divisible by n_head={n_head}: choose n_head that divides the width.")
        self.n_embd, self.n_head, self.head_size, self.block_size = n_embd, n_head, n_embd // n_head, block_size
        self.dropout = dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.size(-1) != self.n_embd:
            raise ValueError(f"expected input of shape (B, T, {self.n_embd}), got {tuple(x.shape)}")
        B, T, C = x.shape
        if T > self.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size={self.block_size}: crop the input to the last {self.block_size} tokens.")
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, self.head_size).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(B, T, C)
        return self.resid_drop(self.proj(y))
