"""The per-token feed-forward network, the block's 'think' step: GELU or SwiGLU."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/04_transformer_block.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/04_transformer_block.ipynb 11
import torch
from torch import nn

from gptcore.checks import (
    check_choice,
    check_positive_int,
    check_probability,
    check_width,
)


class FeedForward(nn.Module):
    """Per-token MLP: widen, GELU (tanh form, GPT-2) or SwiGLU (Llama), project back."""

    def __init__(
        self,
        n_embd: int,
        dropout: float = 0.0,
        bias: bool = True,
        kind: str = "gelu",
        hidden: int | None = None,
    ):
        super().__init__()
        self.n_embd = check_positive_int("n_embd", n_embd)
        check_probability("dropout", dropout)
        self.kind = check_choice("ffn", kind, ("gelu", "swiglu"))
        self.hidden = 4 * n_embd if hidden is None else hidden
        check_positive_int("ffn_hidden", self.hidden)
        # SwiGLU's fc makes two hidden-wide halves in one multiply: [gate | up]
        width = self.hidden if kind == "gelu" else 2 * self.hidden
        self.fc = nn.Linear(n_embd, width, bias=bias)
        self.act = nn.GELU(approximate="tanh") if kind == "gelu" else nn.SiLU()
        self.proj = nn.Linear(self.hidden, n_embd, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n_embd) -> (..., n_embd): each position alone, same weights for all."""
        check_width(x, self.n_embd)
        h = self.fc(x)
        if self.kind == "swiglu":  # a SiLU gate, multiplied channel by channel into up
            gate, up = h.chunk(2, dim=-1)
            return self.drop(self.proj(self.act(gate) * up))
        return self.drop(self.proj(self.act(h)))


# The public names above, computed by scripts/export.py.
__all__ = ["FeedForward"]
