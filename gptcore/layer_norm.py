"""Layer normalisation: every token's vector scaled to mean 0 and variance 1, then
gained and shifted."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/06_layer_normalization.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/06_layer_normalization.ipynb 22
import torch
import torch.nn.functional as F
from torch import nn

from gptcore.checks import check_positive_int, check_width


class LayerNorm(nn.Module):
    """Normalise each token over its channels to mean 0, variance 1, then scale by
    weight and shift by bias."""

    def __init__(self, n_embd: int, bias: bool = True, eps: float = 1e-5):
        super().__init__()
        self.n_embd, self.eps = check_positive_int("n_embd", n_embd), eps
        self.weight = nn.Parameter(torch.ones(n_embd))
        self.bias = nn.Parameter(torch.zeros(n_embd)) if bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n_embd) -> (..., n_embd): every token normalised on its own, in one
        fused kernel."""
        check_width(x, self.n_embd)
        return F.layer_norm(x, (self.n_embd,), self.weight, self.bias, self.eps)


# The public names above, computed by scripts/export.py.
__all__ = ["LayerNorm"]
