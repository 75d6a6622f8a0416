"""Mixture of experts (Mixtral, Qwen MoE): a router sends each token to k of E SwiGLU
experts, so a model holds E feed-forward networks but runs only k for each token."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/18_mixture_of_experts.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/18_mixture_of_experts.ipynb 4
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from gptcore.checks import (
    check_choice,
    check_config,
    check_number,
    check_positive_int,
    check_width,
)
from gptcore.modern import (
    ModernBlock,
    ModernConfig,
    ModernGPT,
    SwiGLU,
    modern_param_count,
)
from gptcore.training import Batch, next_token_loss, unwrap

# How the router weighs a token's top_k experts: "chosen", a softmax over the k chosen
# scores (Mixtral; Qwen MoE with norm_topk_prob=True); "all", a softmax over all E
# scores, of which the k largest are kept as they are (Qwen MoE's default).
ROUTINGS = ("chosen", "all")


def _check_top_k(top_k: int, n_experts: int) -> None:
    """A ValueError unless 1 <= top_k <= n_experts: each token goes to top_k."""
    check_positive_int("n_experts", n_experts)
    check_positive_int("top_k", top_k)
    if top_k > n_experts:
        raise ValueError(
            f"top_k={top_k} is more than n_experts={n_experts}: a token can go to "
            "at most every expert once; lower top_k or add experts"
        )


class Router(nn.Module):
    """Scores each token for n_experts experts; keeps the top_k, ids and weights."""

    def __init__(
        self, n_embd: int, n_experts: int, top_k: int, routing: str = "chosen"
    ):
        super().__init__()
        _check_top_k(top_k, n_experts)
        self.n_embd = check_positive_int("n_embd", n_embd)
        self.n_experts, self.top_k = n_experts, top_k
        self.routing = check_choice("routing", routing, ROUTINGS)
        self.gate = nn.Linear(n_embd, n_experts, bias=False)  # one score per expert

    def forward(
        self, x: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(N, n_embd) -> weights (N, top_k), expert ids (N, top_k), probs (N, E)."""
        check_width(x, self.n_embd)
        scores = self.gate(x).float()  # in float32, as transformers does
        probs = scores.softmax(
            dim=-1
        )  # over all experts: what the balancing loss reads
        top, experts = scores.topk(self.top_k, dim=-1)
        if self.routing == "chosen":  # Mixtral: a softmax over the k chosen scores
            weights = top.softmax(dim=-1)
        else:  # Qwen MoE: the chosen experts' shares of the softmax over all
            weights = probs.gather(-1, experts)
        return weights.to(x.dtype), experts, probs


# %% chapters/18_mixture_of_experts.ipynb 9
def balancing_loss(probs: torch.Tensor, experts: torch.Tensor) -> torch.Tensor:
    """Switch and Mixtral's load-balancing loss, E * sum_e f_e * P_e: top_k when every
    expert gets an equal share of the tokens and of the router's probability."""
    n_experts = probs.size(-1)
    routed = F.one_hot(experts, n_experts).float().mean(dim=0)  # f: (top_k, E)
    return n_experts * (routed * probs.mean(dim=0)).sum()  # P: the mean probability


class MixtureOfExperts(nn.Module):
    """n_experts SwiGLU networks and a router: each token's output is the weighted sum
    of its top_k experts' outputs; the others do not run for it."""

    def __init__(
        self,
        n_embd: int,
        n_experts: int,
        top_k: int,
        hidden: int | None = None,
        routing: str = "chosen",
        dropout: float = 0.0,
        bias: bool = False,
    ):
        super().__init__()
        self.n_embd = n_embd
        self.router = Router(n_embd, n_experts, top_k, routing)
        self.experts = nn.ModuleList(
            SwiGLU(n_embd, dropout, bias, hidden) for _ in range(n_experts)
        )
        self.aux_loss: torch.Tensor | None = None  # the last forward's balancing loss
        self.load: torch.Tensor | None = None  # the last forward's tokens per expert

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n_embd) -> (..., n_embd): each expert runs once, on its tokens only."""
        check_width(x, self.n_embd)
        flat = x.reshape(-1, self.n_embd)
        weights, experts, probs = self.router(flat)
        self.aux_loss = balancing_loss(probs, experts)
        self.load = torch.bincount(experts.flatten(), minlength=len(self.experts))
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            token, slot = (experts == e).nonzero(as_tuple=True)  # who chose e, where
            if len(token):  # one batched call for all of expert e's tokens
                y = expert(flat[token]) * weights[token, slot, None]
                out.index_add_(0, token, y)  # back to each token's row, summed
        return out.view_as(x)


# %% chapters/18_mixture_of_experts.ipynb 16
@dataclass
class MoEConfig(ModernConfig):
    """ModernConfig with a mixture of SwiGLU experts in place of each feed-forward."""

    n_experts: int = 8  # E: feed-forward networks per block (Mixtral: 8)
    top_k: int = 2  # experts each token runs through (Mixtral: 2)
    expert_hidden: int | None = None  # an expert's hidden width; None: ffn_hidden
    routing: str = "chosen"  # or "all": see ROUTINGS
    aux_loss_coef: float = 0.01  # the balancing loss's weight in balanced_loss

    def __post_init__(self) -> None:
        super().__post_init__()  # chapter 13's checks first
        _check_top_k(self.top_k, self.n_experts)
        check_choice("MoEConfig.routing", self.routing, ROUTINGS)
        if self.ffn != "swiglu":
            raise ValueError(
                f"MoEConfig's experts are SwiGLU networks (Mixtral, Qwen MoE), so "
                f"ffn must be 'swiglu', got {self.ffn!r}"
            )
        if self.expert_hidden is not None:
            check_positive_int("MoEConfig.expert_hidden", self.expert_hidden)
        if check_number("MoEConfig.aux_loss_coef", self.aux_loss_coef) < 0:
            raise ValueError(
                f"MoEConfig.aux_loss_coef must be >= 0, got {self.aux_loss_coef}"
            )


class MoEBlock(ModernBlock):
    """Chapter 13's block with its feed-forward network swapped for experts."""

    def __init__(self, config: MoEConfig, rotary=None):
        super().__init__(config, rotary)
        c = config
        self.ffn = MixtureOfExperts(
            c.n_embd,
            c.n_experts,
            c.top_k,
            c.expert_hidden or c.ffn_hidden,
            c.routing,
            c.dropout,
            c.bias,
        )


class MoEGPT(ModernGPT):
    """Chapter 13's ModernGPT with MoEBlocks: experts in place of each feed-forward."""

    def __init__(self, config: MoEConfig):
        example = "MoEGPT(MoEConfig(vocab_size=..., ffn='swiglu', n_experts=8))"
        check_config("MoEGPT", config, MoEConfig, example)
        super().__init__(config)  # chapter 13's model, then the change
        rotary = getattr(self.blocks[0].attn, "rotary", None)  # chapter 13's one RoPE
        self.blocks = nn.ModuleList(MoEBlock(config, rotary) for _ in self.blocks)
        self.init_weights()

    def init_weights(self) -> None:
        """GPT-2's initialisation; every expert's proj scaled down as chapter 8's."""
        self.apply(self._init_weights)
        std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for block in self.blocks:
            experts = getattr(block.ffn, "experts", [block.ffn])  # before the swap: one
            for proj in (block.attn.proj, *(e.proj for e in experts)):
                nn.init.normal_(proj.weight, mean=0.0, std=std)

    def aux_loss(self) -> torch.Tensor:
        """The balancing loss of the last forward, averaged over the blocks."""
        return torch.stack([block.ffn.aux_loss for block in self.blocks]).mean()


def balanced_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """An objective for chapter 9's train: the next-token loss plus aux_loss_coef times
    the model's balancing loss, which keeps every expert in use."""
    loss = next_token_loss(model, batch)
    moe = unwrap(model)  # the model itself, inside DistributedDataParallel or not
    return loss + moe.config.aux_loss_coef * moe.aux_loss()


# %% chapters/18_mixture_of_experts.ipynb 19
def moe_param_count(config: MoEConfig) -> tuple[int, int]:
    """(total, active per token) parameters of MoEGPT(config): chapter 13's count with
    one expert as the feed-forward, then the other experts and the routers."""
    c = config
    hidden = c.expert_hidden or c.ffn_hidden or 4 * c.n_embd
    one_expert = modern_param_count(replace(c, ffn_hidden=hidden))  # a dense model
    b = int(c.bias)
    expert = (c.n_embd + b) * 2 * hidden + (hidden + b) * c.n_embd  # fc and proj
    router = c.n_embd * c.n_experts
    total = one_expert + c.n_layer * ((c.n_experts - 1) * expert + router)
    active = one_expert + c.n_layer * ((c.top_k - 1) * expert + router)
    return total, active


# The public names above, computed by scripts/export.py.
__all__ = [
    "ROUTINGS",
    "Router",
    "balancing_loss",
    "MixtureOfExperts",
    "MoEConfig",
    "MoEBlock",
    "MoEGPT",
    "balanced_loss",
    "moe_param_count",
]
