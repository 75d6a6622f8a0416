"""The full GPT: embeddings, a stack of blocks, a final layer norm and a linear layer to
the vocabulary."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/08_gpt_model.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/08_gpt_model.ipynb 4
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gptcore.attention import head_size_for
from gptcore.block import Block
from gptcore.checks import (
    check_choice,
    check_flag,
    check_length,
    check_positive_int,
    check_probability,
)
from gptcore.embeddings import Embeddings, RotaryEmbedding
from gptcore.layer_norm import norm_layer


@dataclass
class GPTConfig:
    """The model's hyperparameters, checked when the config is created."""

    vocab_size: int
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 8
    n_embd: int = 64
    dropout: float = 0.0
    bias: bool = True
    tie_weights: bool = False
    # Today's variants (chapter 13); each default keeps GPT-2's choice.
    norm: str = "layernorm"  # or "rmsnorm" (Llama); never a bias
    norm_eps: float = 1e-5  # added to the variance (Llama: 1e-5 or 1e-6)
    position: str = "learned"  # or "rope": rotary, no position table (Llama)
    rope_theta: float = 10000.0  # RoPE's base; Llama 3 uses 500000
    ffn: str = "gelu"  # or "swiglu" (Llama)
    ffn_hidden: int | None = None  # the feed-forward's hidden width; None: 4 * n_embd
    n_kv_head: int | None = None  # key/value heads, shared by groups; None: n_head
    qkv_bias: bool | None = None  # a bias on q, k and v (Qwen2: True); None: as bias

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            check_positive_int(f"GPTConfig.{name}", getattr(self, name))
        head_size = head_size_for(self.n_embd, self.n_head)  # n_head must divide n_embd
        check_probability("GPTConfig.dropout", self.dropout)
        for name in ("bias", "tie_weights"):
            check_flag(f"GPTConfig.{name}", getattr(self, name))
        check_choice("GPTConfig.norm", self.norm, ("layernorm", "rmsnorm"))
        check_choice("GPTConfig.position", self.position, ("learned", "rope"))
        check_choice("GPTConfig.ffn", self.ffn, ("gelu", "swiglu"))
        for name in ("norm_eps", "rope_theta"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"GPTConfig.{name} must be a number, got {value!r}")
            if not value > 0:
                raise ValueError(f"GPTConfig.{name} must be positive, got {value}")
        for name in ("ffn_hidden", "n_kv_head"):
            if getattr(self, name) is not None:
                check_positive_int(f"GPTConfig.{name}", getattr(self, name))
        if self.n_kv_head is not None and self.n_head % self.n_kv_head:
            raise ValueError(
                f"GPTConfig.n_kv_head={self.n_kv_head} must divide "
                f"n_head={self.n_head}: each key/value head serves "
                "n_head // n_kv_head query heads"
            )
        if self.qkv_bias is not None:
            check_flag("GPTConfig.qkv_bias", self.qkv_bias)
        if self.position == "rope" and head_size % 2:
            raise ValueError(
                "RoPE turns channels in pairs, so the head size "
                f"n_embd // n_head = {head_size} must be even"
            )


# %% chapters/08_gpt_model.ipynb 12
class GPT(nn.Module):
    """A decoder-only transformer language model: token ids in, next-token logits (and
    loss) out."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(
                "GPT takes a GPTConfig, e.g. GPT(GPTConfig(vocab_size=...)); got "
                f"{type(config).__name__}"
            )
        self.config = c = config
        self.embed = Embeddings(
            c.vocab_size,
            c.block_size,
            c.n_embd,
            learned_positions=c.position == "learned",
        )
        self.drop = nn.Dropout(c.dropout)
        rotary = None  # one RoPE module, shared by every block; it holds no tensors
        if c.position == "rope":
            rotary = RotaryEmbedding(c.n_embd // c.n_head, c.rope_theta)
        self.blocks = nn.ModuleList(
            Block(
                c.n_embd,
                c.n_head,
                c.block_size,
                c.dropout,
                c.bias,
                norm=c.norm,
                norm_eps=c.norm_eps,
                n_kv_head=c.n_kv_head,
                qkv_bias=c.qkv_bias,
                rotary=rotary,
                ffn=c.ffn,
                ffn_hidden=c.ffn_hidden,
            )
            for _ in range(c.n_layer)
        )
        self.ln_f = norm_layer(c.norm, c.n_embd, c.bias, c.norm_eps)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:  # one (V, C) matrix reads tokens in and scores them out
            self.lm_head.weight = self.embed.token.weight
        self.apply(self._init_weights)
        std = 0.02 / math.sqrt(2 * c.n_layer)
        for block in self.blocks:  # the 2L projections that add into the residual
            for proj in (block.attn.proj, block.ffn.proj):
                nn.init.normal_(proj.weight, mean=0.0, std=std)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """GPT-2's initialisation: weights ~ N(0, 0.02^2), biases zero (layer norms keep
        1 and 0)."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, T) token ids -> ((B, T, vocab_size) logits, mean cross-entropy against
        targets or None)."""
        if idx.dim() != 2:
            raise ValueError(
                "idx must be a (batch, time) tensor of token ids, got shape "
                f"{tuple(idx.shape)}; "
                "for a single sequence pass idx[None]"
            )
        B, T = idx.shape
        if T == 0:
            raise ValueError(
                "idx holds no tokens: give the model at least one token per sequence"
            )
        check_length(T, self.config.block_size)
        x = self.drop(self.embed(idx))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        if targets.shape != idx.shape:
            raise ValueError(
                f"targets must have the shape of idx {tuple(idx.shape)}, got "
                f"{tuple(targets.shape)}"
            )
        loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
        return logits, loss

    def num_params(self) -> int:
        """The number of parameters; a tied matrix counts once."""
        return sum(p.numel() for p in self.parameters())


# %% chapters/08_gpt_model.ipynb 17
def param_count_formula(config: GPTConfig) -> int:
    """The number of parameters of GPT(config), added up component by component."""
    c = config
    V, T, C, L = c.vocab_size, c.block_size, c.n_embd, c.n_layer
    b = int(c.bias)  # 1 if linear layers and norms have biases
    b_qkv = b if c.qkv_bias is None else int(c.qkv_bias)
    kv = (c.n_kv_head or c.n_head) * (C // c.n_head)  # k's and v's width: C unless GQA
    F = c.ffn_hidden or 4 * C  # the feed-forward's hidden width
    fc_out = 2 * F if c.ffn == "swiglu" else F  # SwiGLU's fc makes gate and up
    positions = T * C if c.position == "learned" else 0  # RoPE has no table
    embeddings = V * C + positions  # token table + position table
    norm = C + (b * C if c.norm == "layernorm" else 0)  # weight (+ bias; not RMSNorm)
    qkv = C + 2 * kv  # the qkv layer's output width
    attention = (C * qkv + b_qkv * qkv) + (C * C + b * C)  # qkv + proj
    feedforward = (C * fc_out + b * fc_out) + (F * C + b * C)  # fc + proj
    block = 2 * norm + attention + feedforward  # = 12C^2 + 13C for GPT-2
    lm_head = 0 if c.tie_weights else V * C  # no bias
    return embeddings + L * block + norm + lm_head


# The public names above, computed by scripts/export.py.
__all__ = ["GPTConfig", "GPT", "param_count_formula"]
