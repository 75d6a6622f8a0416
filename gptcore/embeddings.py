# DRAFT written by hand to unblock parallel work: chapter 7's notebook replaces it on export.
"""Token plus learned position embeddings: 'what' + 'where'."""
import torch
from torch import nn

__all__ = ["Embeddings"]


class Embeddings(nn.Module):
    """Embed token ids and add a learned vector for each position."""

    def __init__(self, vocab_size: int, block_size: int, n_embd: int):
        super().__init__()
        self.block_size = block_size
        self.token = nn.Embedding(vocab_size, n_embd)
        self.position = nn.Embedding(block_size, n_embd)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        T = idx.size(-1)
        if T > self.block_size:
            raise ValueError(f"sequence length {T} exceeds block_size={self.block_size}: crop to the last {self.block_size} tokens.")
        return self.token(idx) + self.position(torch.arange(T, device=idx.device))
