"""What the benchmark scripts share: the models they measure, and how to time a device honestly."""
from __future__ import annotations

import torch
from torch import nn

from gptcore.training import TrainConfig, make_optimizer

VOCAB = 76  # the plays' vocabulary size
MODELS = {  # name: (GPTConfig fields, batch size): the course model with its recipe's batch, and a wider one
    "course (4 x 8 heads, 64 wide)": (dict(n_layer=4, n_head=8, n_embd=64, block_size=64), TrainConfig().batch_size),
    "wide (4 x 4 heads, 128 wide)": (dict(n_layer=4, n_head=4, n_embd=128, block_size=64), 12),
}


def sync(device: str) -> None:
    """Wait for the device's queued work, so that a timer measures it (CPU work is already done)."""
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    elif device == "mps":
        torch.mps.synchronize()


def training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, network: nn.Module | None = None):
    """One training step of `model` as gptcore.training.train takes it (forward, backward, clipping, AdamW),
    as a function; `network` is the module to call, if not the model itself (a compiled model)."""
    optimizer = make_optimizer(model, TrainConfig())
    network = model if network is None else network

    def step() -> None:
        _, loss = network(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    return step
