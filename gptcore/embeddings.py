"""Where a token is: a learned position table added to the token embedding, or RoPE."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/07_position_embeddings.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/07_position_embeddings.ipynb 18
import torch
from torch import nn

from gptcore.checks import check_length, check_positive_int, check_token_ids


class Embeddings(nn.Module):
    """Embed token ids and add a learned vector for each position: 'what' + 'where'."""

    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        n_embd: int,
        learned_positions: bool = True,
    ):
        super().__init__()
        for name, size in [
            ("vocab_size", vocab_size),
            ("block_size", block_size),
            ("n_embd", n_embd),
        ]:
            check_positive_int(name, size)
        self.vocab_size, self.block_size, self.n_embd = vocab_size, block_size, n_embd
        self.token = nn.Embedding(vocab_size, n_embd)  # what: one row per token id
        # where: one row per position 0..block_size-1; None when RoPE marks positions
        self.position = nn.Embedding(block_size, n_embd) if learned_positions else None

    def forward(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        """(B, T) token ids at positions start.. start+T-1 -> (B, T, n_embd) vectors."""

        check_token_ids(idx, self.vocab_size)
        if self.position is None:  # rotary positions act inside attention instead
            return self.token(idx)
        T = idx.size(-1)
        check_length(start + T, self.block_size)  # no position row beyond block_size
        pos = torch.arange(start, start + T, device=idx.device)
        return self.token(idx) + self.position(pos)  # (B, T, C) + (T, C): broadcast


class RotaryEmbedding(nn.Module):
    """RoPE: turn channel pair (i, i + hs/2) of q and k by position * theta^(-2i/hs)."""

    def __init__(self, head_size: int, theta: float = 10000.0):
        super().__init__()
        if check_positive_int("head_size", head_size) % 2:
            raise ValueError(
                "RoPE turns channels in pairs, so head_size must be even, "
                f"got {head_size}: change n_embd or n_head"
            )
        self.head_size, self.theta = head_size, theta

    def angles(
        self, start: int, T: int, device: torch.device | None = None
    ) -> torch.Tensor:
        """(T, head_size) angles of positions start.. start+T-1; column i + hs/2 = i."""
        pair = torch.arange(0, self.head_size, 2, device=device, dtype=torch.float)
        speed = 1.0 / self.theta ** (pair / self.head_size)  # radians per position
        pos = torch.arange(start, start + T, device=device, dtype=torch.float)
        angle = pos[:, None] * speed  # (T, head_size / 2)
        return torch.cat([angle, angle], dim=-1)  # the halves layout of transformers

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """(..., T, head_size) at positions start.. -> the same, every pair turned."""
        angle = self.angles(start, x.size(-2), x.device)
        cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)  # pair i is (x1[i], x2[i])
        # (a, b) -> (a cos - b sin, b cos + a sin): a rotation of each pair by its angle
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin

    def extra_repr(self) -> str:
        """What print(model) shows of this module."""
        return f"head_size={self.head_size}, theta={self.theta}"


# The public names above, computed by scripts/export.py.
__all__ = ["Embeddings", "RotaryEmbedding"]
