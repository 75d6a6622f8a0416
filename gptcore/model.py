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
    check_config,
    check_flag,
    check_length,
    check_positive_int,
    check_probability,
)
from gptcore.embeddings import Embeddings
from gptcore.layer_norm import LayerNorm


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

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            check_positive_int(f"GPTConfig.{name}", getattr(self, name))
        head_size_for(self.n_embd, self.n_head)  # n_head must divide n_embd
        check_probability("GPTConfig.dropout", self.dropout)
        for name in ("bias", "tie_weights"):
            check_flag(f"GPTConfig.{name}", getattr(self, name))


# %% chapters/08_gpt_model.ipynb 12
class GPT(nn.Module):
    """A decoder-only transformer language model: token ids in, next-token logits (and
    loss) out."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        check_config("GPT", config, GPTConfig, "GPT(GPTConfig(vocab_size=...))")
        if type(self) is GPT and type(config) is not GPTConfig:  # no option ignored
            raise TypeError(
                "GPT builds the model that a GPTConfig describes; a "
                f"{type(config).__name__} has settings GPT would ignore: build it with "
                "the model class made for it"
            )
        self.config = c = config
        self.embed = Embeddings(c.vocab_size, c.block_size, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(
            Block(c.n_embd, c.n_head, c.block_size, c.dropout, c.bias)
            for _ in range(c.n_layer)
        )
        self.ln_f = LayerNorm(c.n_embd, c.bias)
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:  # one (V, C) matrix reads tokens in and scores them out
            self.lm_head.weight = self.embed.token.weight
        self.init_weights()

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """GPT-2's initialisation: weights ~ N(0, 0.02^2), biases zero (layer norms keep
        1 and 0)."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def init_weights(self) -> None:
        """GPT-2's initialisation of every module, then the 2L projections that add into
        the residual stream scaled down by 1/sqrt(2L)."""
        self.apply(self._init_weights)
        std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for block in self.blocks:
            for proj in (block.attn.proj, block.ffn.proj):
                nn.init.normal_(proj.weight, mean=0.0, std=std)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache=None
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
        # cache: chapter 10's keys and values of earlier tokens; None: idx alone
        layers = [None] * len(self.blocks) if cache is None else cache.layers
        check_length(T + (0 if cache is None else len(cache)), self.config.block_size)
        x = self.drop(self.embed(idx, 0 if cache is None else cache.start))
        for block, layer_cache in zip(self.blocks, layers, strict=True):
            x = block(x, layer_cache)
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
    embeddings = V * C + T * C  # token table + position table
    norm = C + b * C  # weight (+ bias)
    attention = (C * 3 * C + b * 3 * C) + (C * C + b * C)  # qkv + proj
    feedforward = (C * 4 * C + b * 4 * C) + (4 * C * C + b * C)  # fc + proj
    block = 2 * norm + attention + feedforward  # = 12C^2 + 13C with biases
    lm_head = 0 if c.tie_weights else V * C  # no bias
    return embeddings + L * block + norm + lm_head


# The public names above, computed by scripts/export.py.
__all__ = ["GPTConfig", "GPT", "param_count_formula"]
