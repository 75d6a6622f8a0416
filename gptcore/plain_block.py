"""The plain transformer block: attention (talk), then the feed-forward network
(think)."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/04_transformer_block.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/04_transformer_block.ipynb 30
import torch
from torch import nn

from gptcore.attention import MultiHeadAttention
from gptcore.feedforward import FeedForward


class PlainBlock(nn.Module):
    """Attention (talk) then feed-forward (think), with no residual connections and no
    normalisation."""

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        block_size: int,
        dropout: float = 0.0,
        bias: bool = True,
    ):
        super().__init__()
        self.attn = MultiHeadAttention(n_embd, n_head, block_size, dropout, bias)
        self.ffn = FeedForward(n_embd, dropout, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, n_embd) -> (B, T, n_embd): tokens gather context, then each processes
        what it gathered."""
        return self.ffn(self.attn(x))


# The public names above, computed by scripts/export.py.
__all__ = ["PlainBlock"]
