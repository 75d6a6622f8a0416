"""Causal multi-head self-attention: several heads side by side, concatenated, then
projected."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/03_multi_head_attention.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/03_multi_head_attention.ipynb 8
import math

import torch
import torch.nn.functional as F
from torch import nn

from gptcore.checks import check_positive_int, check_probability, check_vectors
from gptcore.head import Head


def head_size_for(n_embd: int, n_head: int) -> int:
    """The width of each head, n_embd // n_head; a ValueError unless n_head divides
    n_embd evenly."""
    check_positive_int("n_embd", n_embd)
    check_positive_int("n_head", n_head)
    if n_embd % n_head != 0:
        choices = [h for h in range(1, n_embd + 1) if n_embd % h == 0]
        raise ValueError(
            f"n_embd={n_embd} is not divisible by n_head={n_head}, so the heads "
            f"cannot share the width equally: choose n_head from {choices}, "
            "or change n_embd."
        )
    return n_embd // n_head


class ListOfHeadsAttention(nn.Module):
    """Multi-head attention written plainly: a list of n_head Heads, run one by one,
    concatenated, projected."""

    def __init__(self, n_embd: int, n_head: int, block_size: int, bias: bool = True):
        super().__init__()
        self.head_size = head_size_for(n_embd, n_head)
        self.n_embd, self.n_head, self.block_size = n_embd, n_head, block_size
        self.heads = nn.ModuleList(
            [Head(n_embd, self.head_size, block_size, bias=bias) for _ in range(n_head)]
        )
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, n_embd): every head on the same x, outputs side by
        side, then mixed."""
        return self.proj(torch.cat([head(x) for head in self.heads], dim=-1))


# %% chapters/03_multi_head_attention.ipynb 22
class MultiHeadAttention(nn.Module):
    """Causal multi-head self-attention, fused: one qkv projection serves every head."""

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        block_size: int,
        dropout: float = 0.0,
        bias: bool = True,
    ):
        super().__init__()
        self.head_size = head_size_for(n_embd, n_head)
        check_positive_int("block_size", block_size)
        check_probability("dropout", dropout)
        self.n_embd, self.n_head, self.block_size = n_embd, n_head, block_size
        self.dropout = dropout
        # [q | k | v], n_embd each; within each, head h owns channels h*hs..(h+1)*hs
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.resid_drop = nn.Dropout(dropout)

    def split_heads(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q, k and v of every head, each (B, n_head, T, head_size): heads as batch."""
        check_vectors(x, self.n_embd, self.block_size)
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=-1)
        return tuple(
            t.view(B, T, -1, self.head_size).transpose(1, 2) for t in (q, k, v)
        )

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Each query's weighted sum of the values it may see: (B, n_head, T, hs)."""
        T, S = q.size(-2), k.size(-2)  # S > T only with chapter 10's cache
        mask = None  # T == S: the causal mask; T == 1: the last query sees every key
        if T not in (1, S):  # the queries are the last T positions: the mask, shifted
            mask = torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)
        dropout = self.dropout if self.training else 0.0
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout, is_causal=T == S
        )

    def attention_weights(self, x: torch.Tensor) -> torch.Tensor:
        """Every head's attention map, (B, n_head, T, T): forward's softmax, to plot."""
        q, k, _ = self.split_heads(x)
        T = x.size(1)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_size)
        future = torch.ones(T, T, dtype=torch.bool, device=x.device).triu(diagonal=1)
        return F.softmax(scores.masked_fill(future, float("-inf")), dim=-1)

    def forward(self, x: torch.Tensor, cache=None) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, n_embd): all heads in one attention call, mixed."""
        q, k, v = self.split_heads(x)
        if cache is not None:  # chapter 10: the keys and values of earlier tokens too
            k, v = cache.extend(k, v)
        y = self.attend(q, k, v).transpose(1, 2).reshape(x.shape)  # heads side by side
        return self.resid_drop(self.proj(y))


# %% chapters/03_multi_head_attention.ipynb 26
def fused_from_heads(attn: ListOfHeadsAttention) -> MultiHeadAttention:
    """A MultiHeadAttention that computes exactly what `attn` does: its heads' weights
    stacked into one qkv."""
    bias = attn.proj.bias is not None
    fused = MultiHeadAttention(attn.n_embd, attn.n_head, attn.block_size, bias=bias)
    fused = fused.to(device=attn.proj.weight.device, dtype=attn.proj.weight.dtype)
    with torch.no_grad():
        for i, part in enumerate(["query", "key", "value"]):
            rows = slice(i * attn.n_embd, (i + 1) * attn.n_embd)
            fused.qkv.weight[rows] = torch.cat(
                [getattr(h, part).weight for h in attn.heads]
            )
            if bias:
                fused.qkv.bias[rows] = torch.cat(
                    [getattr(h, part).bias for h in attn.heads]
                )
        fused.proj.load_state_dict(attn.proj.state_dict())
    return fused


# The public names above, computed by scripts/export.py.
__all__ = [
    "head_size_for",
    "ListOfHeadsAttention",
    "MultiHeadAttention",
    "fused_from_heads",
]
