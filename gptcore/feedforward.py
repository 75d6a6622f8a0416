"""The per-token feed-forward network, the block's 'think' step."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/04_transformer_block.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/04_transformer_block.ipynb 11
import torch
from torch import nn

from gptcore.checks import check_positive_int, check_probability, check_width


class FeedForward(nn.Module):
    """Per-token MLP: widen (4 x n_embd unless hidden says), GELU (tanh form, GPT-2),
    project back."""

    def __init__(
        self,
        n_embd: int,
        dropout: float = 0.0,
        bias: bool = True,
        hidden: int | None = None,
    ):
        super().__init__()
        self.n_embd = check_positive_int("n_embd", n_embd)
        check_probability("dropout", dropout)
        self.hidden = check_positive_int(
            "hidden", 4 * n_embd if hidden is None else hidden
        )
        self.fc = nn.Linear(n_embd, self.hidden, bias=bias)
        self.act = nn.GELU(approximate="tanh")
        self.proj = nn.Linear(self.hidden, n_embd, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n_embd) -> (..., n_embd): each position alone, same weights for all."""
        check_width(x, self.n_embd)
        return self.drop(self.proj(self.act(self.fc(x))))


# The public names above, computed by scripts/export.py.
__all__ = ["FeedForward"]
