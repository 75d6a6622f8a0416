# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/07_position_embeddings.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

"""Token plus learned position embeddings: what each token is, plus where it is."""

import torch
from torch import nn

__all__ = ["Embeddings"]


class Embeddings(nn.Module):
    """Embed token ids and add a learned vector for each position: 'what' + 'where'."""

    def __init__(self, vocab_size: int, block_size: int, n_embd: int):
        super().__init__()
        self.vocab_size, self.block_size, self.n_embd = vocab_size, block_size, n_embd
        self.token = nn.Embedding(vocab_size, n_embd)     # what: one row per vocabulary entry
        self.position = nn.Embedding(block_size, n_embd)  # where: one row per position 0..block_size-1

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids -> (B, T, n_embd) vectors."""
        if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
            raise TypeError(f"token ids must be an integer tensor, got dtype {idx.dtype}")
        T = idx.size(-1)
        if T > self.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size={self.block_size}: there is no position "
                             f"embedding beyond it; crop the input to its last {self.block_size} tokens.")
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.vocab_size):
            raise ValueError(f"token ids must lie in [0, {self.vocab_size}), got values from "
                             f"{idx.min().item()} to {idx.max().item()}")
        pos = torch.arange(T, device=idx.device)
        return self.token(idx) + self.position(pos)  # (B, T, C) + (T, C): broadcast over the batch
