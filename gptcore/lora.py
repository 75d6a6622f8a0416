"""LoRA (Hu et al., 2021): fine-tune a frozen model through low-rank updates of its
linear layers."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/15_fine_tuning.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/15_fine_tuning.ipynb 6
from __future__ import annotations

import math

import torch
from torch import nn

from gptcore.checks import check_number, check_positive_int

DEFAULT_TARGETS = ("attn.qkv", "attn.proj")  # every attention projection, all blocks


def _check_alpha(alpha: object) -> float:
    """Return alpha as a float if it is a finite number above 0; else a TypeError or
    ValueError."""
    if not check_number("alpha", alpha) > 0:
        raise ValueError(
            f"alpha must be a finite number above 0, got {alpha}: the update is "
            "scaled by alpha / rank (the default is 8.0)"
        )
    return float(alpha)


def _check_rank(rank: object, layer: nn.Linear, name: str = "this layer") -> int:
    """Return rank if it is an int from 1 to min(in_features, out_features); else a
    clear error."""
    check_positive_int("rank", rank)
    limit = min(layer.in_features, layer.out_features)
    if rank > limit:
        raise ValueError(
            f"rank={rank} is above the width of {name} ({layer.in_features} -> "
            f"{layer.out_features}): choose a rank from 1 to {limit}"
        )
    return rank


class LoRALinear(nn.Module):
    """A frozen nn.Linear plus a trainable low-rank update: base(x) + (alpha / rank)
    x A^T B^T."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float = 8.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        self.rank = _check_rank(rank, base)
        self.alpha = _check_alpha(alpha)
        self.scaling = self.alpha / rank
        self.base = base.requires_grad_(False)
        like = dict(device=base.weight.device, dtype=base.weight.dtype)
        # A: random, as nn.Linear initialises a weight; B: zeros, so B @ A starts at 0
        self.lora_A = nn.Parameter(torch.empty(rank, base.in_features, **like))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, rank, **like))

    def delta_weight(self) -> torch.Tensor:
        """The update the adapter adds to the base weight: (alpha / rank) B @ A."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in_features) -> (..., out_features): the frozen layer plus the
        update."""
        return self.base(x) + self.scaling * ((x @ self.lora_A.T) @ self.lora_B.T)

    def merged(self) -> nn.Linear:
        """A plain nn.Linear whose weight is W + (alpha / rank) B @ A; the same bias."""
        base = self.base
        layer = nn.Linear(
            base.in_features,
            base.out_features,
            bias=base.bias is not None,
            device=base.weight.device,
            dtype=base.weight.dtype,
        )
        with torch.no_grad():
            layer.weight.copy_(base.weight + self.delta_weight())
            if base.bias is not None:
                layer.bias.copy_(base.bias)
        return layer

    def extra_repr(self) -> str:
        return f"rank={self.rank}, alpha={self.alpha:g}"


# %% chapters/15_fine_tuning.ipynb 7
def _matches(name: str, target: str) -> bool:
    """Whether a module's qualified name is target, or ends with '.' + target."""
    return name == target or name.endswith("." + target)


def _replace(model: nn.Module, name: str, module: nn.Module) -> None:
    """Put module where the submodule called name is."""
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


def _short_names(names: list[str]) -> list[str]:
    """Each distinct name after its last number: blocks.0.attn.qkv -> attn.qkv."""
    short = []
    for name in names:
        parts = name.split(".")
        last = max((i for i, p in enumerate(parts) if p.isdigit()), default=-1)
        short.append(".".join(parts[last + 1 :]))
    return list(dict.fromkeys(short))


def _check_unshared(model: nn.Module, name: str, layer: nn.Linear) -> None:
    """A ValueError if layer's weight or bias is also another module's (tied)."""
    mine = {id(p) for p in layer.parameters(recurse=False)}
    others = [
        n
        for n, m in model.named_modules(remove_duplicate=False)
        if n != name and any(id(p) in mine for p in m.parameters(recurse=False))
    ]
    if others:
        tied = getattr(getattr(model, "config", None), "tie_weights", False) is True
        raise ValueError(
            f"{name} shares its weight with {', '.join(others)}"
            f"{' (tie_weights=True)' if tied else ''}: LoRA would untie them; "
            f"leave {name} out of targets"
        )


def add_lora(
    model: nn.Module,
    rank: int,
    alpha: float = 8.0,
    targets: tuple[str, ...] = DEFAULT_TARGETS,
) -> nn.Module:
    """Freeze every parameter and wrap each targeted nn.Linear in a LoRALinear, in
    place; return the model.

    A target names layers by the end of their qualified name: "attn.qkv" is every
    block's qkv, "lm_head" the output head. Nothing changes if any check fails.
    """
    check_positive_int("rank", rank)
    _check_alpha(alpha)
    if not isinstance(targets, (tuple, list)) or not all(
        isinstance(t, str) for t in targets
    ):
        raise TypeError(
            f"targets must be a tuple of layer names, e.g. ('attn.qkv',), got "
            f"{targets!r}"
        )
    if not targets or not all(t.strip() for t in targets):
        raise ValueError(
            f"targets {tuple(targets)} must name at least one layer, and no name may "
            "be empty: e.g. ('attn.qkv',)"
        )
    if any(isinstance(m, LoRALinear) for m in model.modules()):
        raise ValueError(
            "this model already has LoRA adapters: merge them first "
            "(merge_lora(model)), or train the ones it has"
        )
    linears = {n: m for n, m in model.named_modules() if isinstance(m, nn.Linear)}
    chosen = [n for n in linears if any(_matches(n, t) for t in targets)]
    if unmatched := [t for t in targets if not any(_matches(n, t) for n in linears)]:
        example = f" (in full: {next(iter(linears))}, ...)" if linears else ""
        raise ValueError(
            f"targets {tuple(unmatched)} name no linear layer of this model; its "
            f"linear layers are: {', '.join(_short_names(list(linears))) or 'none'}"
            f"{example}"
        )
    for name in chosen:  # every check before the first change
        _check_rank(rank, linears[name], name)
        _check_unshared(model, name, linears[name])
    model.requires_grad_(False)
    for name in chosen:
        _replace(model, name, LoRALinear(linears[name], rank, alpha))
    return model


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every adapter into its weight and put plain nn.Linear layers back, in place;
    return the model, every parameter trainable again."""
    adapters = [(n, m) for n, m in model.named_modules() if isinstance(m, LoRALinear)]
    if not adapters:
        raise ValueError("this model has no LoRA adapters to merge: see add_lora")
    for name, adapter in adapters:
        _replace(model, name, adapter.merged())
    return model.requires_grad_(True)


# The public names above, computed by scripts/export.py.
__all__ = ["DEFAULT_TARGETS", "LoRALinear", "add_lora", "merge_lora"]
