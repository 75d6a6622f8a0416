"""The residual block: attention and feed-forward, each added to its input (He et al.'s
x + f(x))."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/05_residual_connections.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/05_residual_connections.ipynb 11
import torch
from torch import nn

from gptcore.attention import MultiHeadAttention
from gptcore.feedforward import FeedForward


class ResidualBlock(nn.Module):
    """Attention then feed-forward, each added to the stream it reads (x + f(x)); no
    normalisation yet."""

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
        """(B, T, n_embd) -> (B, T, n_embd): the stream plus what attention adds, plus
        what the FFN adds."""
        x = x + self.attn(x)
        return x + self.ffn(x)


# The public names above, computed by scripts/export.py.
__all__ = ["ResidualBlock"]
