"""Where a token is: a learned position table added to the token embedding."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/07_position_embeddings.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/07_position_embeddings.ipynb 18
import torch
from torch import nn

from gptcore.checks import check_length, check_positive_int, check_token_ids


class Embeddings(nn.Module):
    """Embed token ids and add a learned vector for each position: 'what' + 'where'."""

    def __init__(self, vocab_size: int, block_size: int, n_embd: int):
        super().__init__()
        for name, size in [
            ("vocab_size", vocab_size),
            ("block_size", block_size),
            ("n_embd", n_embd),
        ]:
            check_positive_int(name, size)
        self.vocab_size, self.block_size, self.n_embd = vocab_size, block_size, n_embd
        self.token = nn.Embedding(vocab_size, n_embd)  # what: one row per token id
        self.position = nn.Embedding(block_size, n_embd)  # where: one row per position

    def forward(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        """(B, T) token ids at positions start.. start+T-1 -> (B, T, n_embd) vectors."""
        check_token_ids(idx, self.vocab_size)
        T = idx.size(-1)
        check_length(start + T, self.block_size)  # no position row beyond block_size
        pos = torch.arange(start, start + T, device=idx.device)
        return self.token(idx) + self.position(pos)  # (B, T, C) + (T, C): broadcast


# The public names above, computed by scripts/export.py.
__all__ = ["Embeddings"]
