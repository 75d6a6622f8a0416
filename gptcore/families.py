"""Today's other named changes (Qwen3, Mistral past its window): a head size of its
own, RMSNorm on each head's queries and keys, and attention within a sliding window."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/18_mixture_of_experts.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/18_mixture_of_experts.ipynb 34
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gptcore.checks import (
    check_config,
    check_flag,
    check_positive_int,
    check_vectors,
)
from gptcore.experts import MoEConfig, MoEGPT
from gptcore.modern import (
    GroupedQueryAttention,
    ModernConfig,
    ModernGPT,
    RMSNorm,
    RotaryEmbedding,
)


@dataclass
class FamilyConfig(ModernConfig):
    """ModernConfig with a head size of its own, QK-norm and a sliding window."""

    head_dim: int | None = None  # each head's width (Qwen3: 128); None: C // n_head
    qk_norm: bool = False  # RMSNorm on each head's queries and keys (Qwen3)
    window: int | None = None  # keys each query sees, itself included (Mistral)

    def __post_init__(self) -> None:
        super().__post_init__()  # chapter 13's checks first
        check_flag("FamilyConfig.qk_norm", self.qk_norm)
        if self.head_dim is not None:
            check_positive_int("FamilyConfig.head_dim", self.head_dim)
            if self.position == "rope" and self.head_dim % 2:
                raise ValueError(
                    f"RoPE turns channels in pairs, so head_dim must be even, got "
                    f"{self.head_dim}: change head_dim"
                )
        if self.window is not None:
            check_positive_int("FamilyConfig.window", self.window)


class FamilyAttention(GroupedQueryAttention):
    """Chapter 13's attention with heads head_dim wide whatever the width, RMSNorm on
    each head's q and k (qk_norm), and each query seeing only its last window keys."""

    def __init__(self, config: FamilyConfig, rotary: RotaryEmbedding | None = None):
        c = config
        super().__init__(
            c.n_embd,
            c.n_head,
            c.block_size,
            c.dropout,
            c.bias,
            c.n_kv_head,
            c.qkv_bias,
            rotary,
        )
        self.head_size = c.head_dim or self.head_size  # the change: a width of its own
        self.q_width = self.n_head * self.head_size  # n_embd if head_dim = C // n_head
        self.kv_width = self.n_kv_head * self.head_size
        qkv_bias = self.qkv.bias is not None
        self.qkv = nn.Linear(c.n_embd, self.q_width + 2 * self.kv_width, bias=qkv_bias)
        self.proj = nn.Linear(self.q_width, c.n_embd, bias=c.bias)
        if c.qk_norm:  # Qwen3: an RMSNorm of one head's width, for q and one for k
            self.q_norm = RMSNorm(self.head_size, c.norm_eps)
            self.k_norm = RMSNorm(self.head_size, c.norm_eps)
        self.window = c.window  # keys each query sees, itself included; None: all

    def split_heads(
        self, x: torch.Tensor, start: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Chapter 13's split with head_dim-wide heads, q and k normed before RoPE."""
        check_vectors(x, self.n_embd, self.block_size)
        B, T, _ = x.shape
        rows = [self.q_width, self.kv_width, self.kv_width]
        parts = self.qkv(x).split(rows, dim=-1)
        q, k, v = (t.view(B, T, -1, self.head_size) for t in parts)
        if hasattr(self, "q_norm"):  # QK-norm: each head's q and k to RMS 1, scaled
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        if self.rotary is not None:
            q, k = self.rotary(q, start), self.rotary(k, start)
        return q, k, v

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Chapter 13's attention; with a window, each query sees its last window."""
        if self.window is None:
            return super().attend(q, k, v)
        T, S = q.size(-2), k.size(-2)  # the queries are the last T of the S positions
        query = torch.arange(S - T, S, device=q.device)[:, None]
        back = query - torch.arange(S, device=q.device)  # how far back each key is
        mask = (back >= 0) & (back < self.window)  # the causal mask, cut to the window
        dropout = self.dropout if self.training else 0.0
        k, v = self.expand_kv(k), self.expand_kv(v)
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=dropout
        )

    def forward(self, x: torch.Tensor, cache=None) -> torch.Tensor:
        """Chapter 13's forward, head_dim-wide; the cache keeps window - 1 positions."""
        q, k, v = self.split_heads(x, 0 if cache is None else cache.start)
        if cache is not None:
            k, v = cache.extend(k, v)
        y = self.attend(q, k, v).transpose(1, 2).reshape(*x.shape[:-1], self.q_width)
        if cache is not None and self.window is not None:  # a rolling cache: the next
            cache.drop_oldest(max(0, len(cache) - self.window + 1))  # query needs these
        return self.resid_drop(self.proj(y))


def _swap_attention(model: ModernGPT, config: FamilyConfig) -> None:
    """Each block's attention swapped for a FamilyAttention; one RoPE, head_dim wide."""
    c, rotary = config, None
    if c.position == "rope":
        rotary = RotaryEmbedding(c.head_dim or c.n_embd // c.n_head, c.rope_theta)
    for block in model.blocks:
        block.attn = FamilyAttention(c, rotary)


class FamilyGPT(ModernGPT):
    """Chapter 13's ModernGPT with FamilyAttention in every block (Qwen3, Mistral)."""

    def __init__(self, config: FamilyConfig):
        check_config("FamilyGPT", config, FamilyConfig)
        super().__init__(config)  # chapter 13's model, then the change
        _swap_attention(self, config)
        self.init_weights()


@dataclass
class FamilyMoEConfig(MoEConfig, FamilyConfig):
    """MoEConfig and FamilyConfig together: experts, head_dim, QK-norm (Qwen3-MoE)."""


class FamilyMoEGPT(MoEGPT):
    """This chapter's MoEGPT with FamilyAttention in every block (Qwen3-MoE)."""

    def __init__(self, config: FamilyMoEConfig):
        check_config("FamilyMoEGPT", config, FamilyMoEConfig)
        super().__init__(config)  # the experts, then the attention
        _swap_attention(self, config)
        self.init_weights()


# The public names above, computed by scripts/export.py.
__all__ = [
    "FamilyConfig",
    "FamilyAttention",
    "FamilyGPT",
    "FamilyMoEConfig",
    "FamilyMoEGPT",
]
