# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/04_transformer_block.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/04_transformer_block.ipynb 10
"""The per-token feed-forward network: widen, GELU, project back; the block's 'think' step."""
import torch
from torch import nn

from gptcore.checks import check_positive_int, check_probability, check_width


class FeedForward(nn.Module):
    """Per-token MLP: widen to 4 * n_embd, GELU (tanh form, as GPT-2), project back; the block's 'think' step."""

    def __init__(self, n_embd: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        self.n_embd = check_positive_int("n_embd", n_embd)
        check_probability("dropout", dropout)
        self.fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.act = nn.GELU(approximate="tanh")
        self.proj = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n_embd) -> (..., n_embd): every position processed on its own, with the same weights."""
        check_width(x, self.n_embd)
        return self.drop(self.proj(self.act(self.fc(x))))


# The public names above, computed by scripts/export.py.
__all__ = ["FeedForward"]
