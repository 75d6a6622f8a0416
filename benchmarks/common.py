"""What the benchmark scripts share: the models they measure, and how to time a device
honestly."""

from __future__ import annotations

import torch
from torch import nn

from gptcore.data import CharTokenizer, shakespeare
from gptcore.model import GPTConfig
from gptcore.training import TrainConfig, make_optimizer, preset_configs, train_step

VOCAB = CharTokenizer.from_text(
    "".join(shakespeare())
).vocab_size  # the plays' vocabulary
MODELS: dict[
    str, tuple[GPTConfig, TrainConfig]
] = {  # the library's presets, with their recipes' batches
    "course (4 x 8 heads, 64 wide)": preset_configs("course", VOCAB),
    "wide (4 x 4 heads, 128 wide)": preset_configs("wide", VOCAB),
}


def sync(device: str) -> None:
    """Wait for the device's queued work, so that a timer measures it (CPU work is
    already done)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def training_step(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    network: nn.Module | None = None,
    recipe: TrainConfig | None = None,
):
    """gptcore.training.train_step on a fixed batch, as a function of no arguments;
    `network` is the module to call, if not the model itself (a compiled model)."""
    recipe = recipe or TrainConfig()
    optimizer = make_optimizer(model, recipe)
    network = model if network is None else network

    def step() -> None:
        train_step(network, optimizer, (x, y), recipe.lr, recipe.grad_clip)

    return step
