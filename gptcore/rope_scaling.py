"""RoPE frequency scaling (linear; Llama 3.1's "llama3"): a rotary embedding whose slow
pairs turn slower, so that positions past the trained context look familiar."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/18_mixture_of_experts.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/18_mixture_of_experts.ipynb 31
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gptcore.checks import check_choice, check_config, check_number
from gptcore.modern import ModernConfig, ModernGPT, RotaryEmbedding

ROPE_SCALINGS = ("linear", "llama3")  # the rope_type values that gptcore computes
_LLAMA3_KEYS = ("factor", "low_freq_factor", "high_freq_factor")


def check_rope_scaling(scaling: dict) -> str:
    """Its rope_type if gptcore computes this scaling; else a ValueError naming it."""
    kind = scaling.get("rope_type", scaling.get("type"))
    check_choice("rope_scaling's rope_type", kind, ROPE_SCALINGS)
    keys = ("factor",) if kind == "linear" else _LLAMA3_KEYS
    for key in keys + (
        ("original_max_position_embeddings",) if kind != "linear" else ()
    ):
        if key not in scaling:
            raise ValueError(f"RoPE scaling {kind!r} needs {key!r}, got {scaling}")
        if not check_number(f"rope_scaling's {key}", scaling[key]) > 0:
            raise ValueError(f"rope_scaling's {key} must be positive, got {scaling}")
    return kind


class ScaledRotaryEmbedding(RotaryEmbedding):
    """Chapter 13's RoPE with each pair's speed scaled: all by 1 / factor (linear), or
    only the slow ones, blended in between (llama3)."""

    def __init__(self, head_size: int, theta: float, scaling: dict):
        super().__init__(head_size, theta)
        self.kind, self.scaling = check_rope_scaling(scaling), dict(scaling)

    def speeds(self, device: torch.device | None = None) -> torch.Tensor:
        """(head_size / 2,) radians per position of each pair, after the scaling."""
        pair = torch.arange(0, self.head_size, 2, device=device, dtype=torch.float)
        speed = 1.0 / self.theta ** (pair / self.head_size)  # chapter 13's
        s, factor = self.scaling, self.scaling["factor"]
        if self.kind == "linear":  # positions divided by factor: all pairs slower
            return speed / factor
        old = s["original_max_position_embeddings"]  # the context trained first
        wavelength = 2 * math.pi / speed  # positions per turn
        slow = wavelength > old / s["low_freq_factor"]  # turn less than once: slower
        scaled = torch.where(slow, speed / factor, speed)
        blend = (old / wavelength - s["low_freq_factor"]) / (
            s["high_freq_factor"] - s["low_freq_factor"]
        )  # between the two: a mix, from all slowed to none
        medium = ~slow & (wavelength >= old / s["high_freq_factor"])
        return torch.where(
            medium, (1 - blend) * scaled / factor + blend * scaled, scaled
        )

    def angles(
        self, start: int, T: int, device: torch.device | None = None
    ) -> torch.Tensor:
        """Chapter 13's angles, with the scaled speeds."""
        pos = torch.arange(start, start + T, device=device, dtype=torch.float)
        angle = pos[:, None] * self.speeds(device)
        return torch.cat([angle, angle], dim=-1)

    def extra_repr(self) -> str:
        """What print(model) shows of this module."""
        return f"{super().extra_repr()}, scaling={self.scaling}"


@dataclass
class ScaledRopeConfig(ModernConfig):
    """ModernConfig with RoPE's frequencies scaled, as config.json's rope_parameters."""

    rope_scaling: dict | None = None  # {"rope_type": "llama3", "factor": 8.0, ...}

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.position != "rope" or self.rope_scaling is None:
            raise ValueError(
                "ScaledRopeConfig scales RoPE: set position='rope' and rope_scaling, "
                "e.g. {'rope_type': 'linear', 'factor': 2.0}"
            )
        check_rope_scaling(self.rope_scaling)


class ScaledRopeGPT(ModernGPT):
    """Chapter 13's ModernGPT with its one RoPE swapped for a scaled one."""

    def __init__(self, config: ScaledRopeConfig):
        check_config("ScaledRopeGPT", config, ScaledRopeConfig)
        super().__init__(config)
        c = config
        rotary = ScaledRotaryEmbedding(
            c.n_embd // c.n_head, c.rope_theta, c.rope_scaling
        )
        for block in self.blocks:
            block.attn.rotary = rotary  # one, shared, as before


# The public names above, computed by scripts/export.py.
__all__ = [
    "ROPE_SCALINGS",
    "check_rope_scaling",
    "ScaledRotaryEmbedding",
    "ScaledRopeConfig",
    "ScaledRopeGPT",
]
