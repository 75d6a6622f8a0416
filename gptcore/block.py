"""The pre-norm block of GPT-2: x + attn(ln1(x)), then x + ffn(ln2(x))."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/06_layer_normalization.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/06_layer_normalization.ipynb 29
import torch
from torch import nn

from gptcore.attention import MultiHeadAttention
from gptcore.feedforward import FeedForward
from gptcore.layer_norm import LayerNorm


class Block(nn.Module):
    """GPT-2's pre-norm transformer block: x + attn(ln1(x)), then x + ffn(ln2(x))."""

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        block_size: int,
        dropout: float = 0.0,
        bias: bool = True,
    ):
        super().__init__()
        self.ln1 = LayerNorm(n_embd, bias)
        self.attn = MultiHeadAttention(n_embd, n_head, block_size, dropout, bias)
        self.ln2 = LayerNorm(n_embd, bias)
        self.ffn = FeedForward(n_embd, dropout, bias)

    def forward(self, x: torch.Tensor, cache=None) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, n_embd): each sublayer reads normed x, adds to x."""
        x = x + self.attn(self.ln1(x), cache)  # cache: chapter 10's, passed through
        return x + self.ffn(self.ln2(x))


# The public names above, computed by scripts/export.py.
__all__ = ["Block"]
