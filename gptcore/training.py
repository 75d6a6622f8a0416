"""Training the GPT: the learning-rate schedule, evaluation, one training step, and the
resumable loop, which minimises any objective (next-token cross-entropy by default)."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/09_training.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/09_training.ipynb 11
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field, fields
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from gptcore.checks import check_number, check_positive_int
from gptcore.data import get_batch
from gptcore.model import GPTConfig


def default_device() -> str:
    """The fastest device here: 'cuda' if a GPU is present, else 'mps' (Apple silicon),
    else 'cpu'."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def unwrap(model: nn.Module) -> nn.Module:
    """The model itself: DistributedDataParallel wraps it and keeps it as `.module`."""
    return getattr(model, "module", model)


def resolve_device(device: str) -> str:
    """'auto' as default_device(); any other device checked, so that a missing GPU is
    one clear error, not a failure deep inside PyTorch."""
    if device == "auto":
        return default_device()
    try:
        kind = torch.device(device).type
    except RuntimeError:
        raise ValueError(
            f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps"
        ) from None
    present = {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    if not present.get(kind, True):
        raise ValueError(
            f"device {device!r}: PyTorch sees no {kind} device on this machine: "
            f"use auto (here: {default_device()}) or cpu"
        )
    return device


# %% chapters/09_training.ipynb 12
# The precisions a step can compute in: float32, or torch.autocast's half-width types.
DTYPES = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


@dataclass
class TrainConfig:
    """The training recipe: how long, how big a batch, how fast, and how often to
    evaluate."""

    steps: int = 1600
    batch_size: int = 16
    lr: float = 5e-3
    min_lr: float = 5e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_interval: int = 200
    eval_batches: int = 20
    seed: int = 0
    grad_accum: int = 1  # micro-batches per step: the batch, in this many slices
    dtype: str = "float32"  # or "bfloat16" / "float16": autocast's lower precision

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_interval", "eval_batches"):
            check_positive_int(f"TrainConfig.{name}", getattr(self, name))
        check_positive_int("TrainConfig.grad_accum", self.grad_accum)
        if self.dtype not in DTYPES:
            raise ValueError(
                f"TrainConfig.dtype must be one of {', '.join(DTYPES)}, "
                f"got {self.dtype!r}"
            )
        if self.batch_size % self.grad_accum:
            raise ValueError(
                f"batch_size={self.batch_size} cannot be cut into "
                f"grad_accum={self.grad_accum} equal micro-batches: "
                "make batch_size a multiple of grad_accum"
            )
        for name in ("lr", "min_lr", "weight_decay", "grad_clip"):
            check_number(f"TrainConfig.{name}", getattr(self, name))
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(
                f"warmup_steps={self.warmup_steps} must be between 0 and "
                f"steps={self.steps}"
            )
        if not 0 < self.min_lr <= self.lr:
            raise ValueError(
                f"need 0 < min_lr <= lr, got min_lr={self.min_lr} and lr={self.lr}"
            )
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise ValueError(
                "grad_clip and weight_decay must be >= 0 (grad_clip=0 turns clipping "
                "off), "
                f"got {self.grad_clip} and {self.weight_decay}"
            )


def lr_at(step: int, recipe: TrainConfig) -> float:
    """The learning rate at a step (counted from 0): linear warm-up to recipe.lr, then
    cosine decay to min_lr."""
    if step < recipe.warmup_steps:
        return recipe.lr * (step + 1) / recipe.warmup_steps
    progress = min(
        1.0, (step - recipe.warmup_steps) / max(1, recipe.steps - recipe.warmup_steps)
    )
    return recipe.min_lr + 0.5 * (recipe.lr - recipe.min_lr) * (
        1.0 + math.cos(math.pi * progress)
    )


# %% chapters/09_training.ipynb 16
# A batch is a tuple of tensors; an objective maps (model, batch) to the loss to
# minimise.
Batch = tuple[torch.Tensor, ...]
Objective = Callable[[nn.Module, Batch], torch.Tensor]


def next_token_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """The default objective: the model's own loss, the cross-entropy of each window's
    next tokens (chapter 8)."""
    x, y = batch
    _, loss = model(x, y)
    return loss


def windows(data: torch.Tensor, block_size: int) -> Callable[..., Batch]:
    """A source of batches: draw(batch_size, generator) gives get_batch's random windows
    (x, y) of the token ids `data`."""

    def draw(batch_size: int, generator: torch.Generator) -> Batch:
        return get_batch(data, batch_size, block_size, generator=generator)

    return draw


@torch.no_grad()
def estimate_loss(
    model: nn.Module,
    data: torch.Tensor | Callable[..., Batch],
    block_size: int | None = None,
    batch_size: int = 32,
    batches: int = 20,
    seed: int = 1234,
    device: str | torch.device = "cpu",
    *,
    objective: Objective = next_token_loss,
) -> float:
    """Mean objective over the same `batches` batches on every call (a seeded
    generator), in eval mode, no gradients; `data` is token ids (windows of
    `block_size`) or a source of batches."""
    draw = data if callable(data) else windows(data, block_size)
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(batches):
        batch = tuple(t.to(device) for t in draw(batch_size, generator))
        total += objective(model, batch).item()
    model.train(was_training)
    return total / batches


# %% chapters/09_training.ipynb 19
def make_optimizer(model: nn.Module, recipe: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay shrinks the matrices only, never the biases or the layer
    norms' gains."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {
            "params": [p for p in params if p.dim() >= 2],
            "weight_decay": recipe.weight_decay,
        },
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=recipe.lr, betas=(0.9, 0.99))


def _new_history() -> dict[str, list]:
    """Empty loss records: every step's loss and learning rate, and each evaluation's
    train and val loss."""
    return {
        "step": [],
        "loss": [],
        "lr": [],
        "eval_step": [],
        "train_loss": [],
        "val_loss": [],
    }


@dataclass
class TrainState:
    """Where a run stands: the steps taken, the generator that draws the batches, and
    the losses so far."""

    step: int = 0
    generator: torch.Generator = field(default_factory=torch.Generator)
    history: dict[str, list] = field(default_factory=_new_history)

    @classmethod
    def start(cls, seed: int) -> TrainState:
        """A fresh run whose batches come from a generator seeded with `seed`."""
        return cls(generator=torch.Generator().manual_seed(seed))


# %% chapters/09_training.ipynb 20
def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    lr: float,
    grad_clip: float = 1.0,
    *,
    objective: Objective = next_token_loss,
    grad_accum: int = 1,
    dtype: str = "float32",
    scaler: torch.amp.GradScaler | None = None,
) -> torch.Tensor:
    """One update: set the learning rate; forward and backward over `grad_accum` slices
    of every tensor of the batch; clip; step; return the loss."""
    if len(batch[0]) % grad_accum:
        raise ValueError(
            f"a batch of {len(batch[0])} cannot be cut into {grad_accum} equal "
            "micro-batches"
        )
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    device = batch[0].device
    total = torch.zeros((), device=device)
    slices = zip(*(t.chunk(grad_accum) for t in batch))
    for i, micro in enumerate(slices):
        # With DistributedDataParallel, backward() also averages the gradients of all
        # processes; no_sync() skips that on every micro-batch but the last, whose
        # backward averages the sum so far.
        last = i == grad_accum - 1
        apart = model.no_sync() if hasattr(model, "no_sync") and not last else None
        with apart or contextlib.nullcontext():
            with torch.autocast(device.type, DTYPES[dtype], enabled=dtype != "float32"):
                loss = objective(model, micro)
            # equal slices: the mean of their means is the whole batch's mean loss
            loss = loss / grad_accum
            (scaler.scale(loss) if scaler is not None else loss).backward()
        total += loss.detach()
    if scaler is not None:
        scaler.unscale_(optimizer)  # clip the true gradient, not the scaled one
    if grad_clip > 0:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    if scaler is not None:
        scaler.step(optimizer)  # skips the step if the gradient overflowed float16
        scaler.update()
    else:
        optimizer.step()
    return total


def _source(data: torch.Tensor | Callable[..., Batch], model: nn.Module) -> Callable:
    """A source of batches as given, or windows of the model's context from token
    ids."""
    return data if callable(data) else windows(data, unwrap(model).config.block_size)


def _evaluate(model, train_draw, val_draw, recipe, state, objective, device) -> None:
    """Record the training and validation objective at this step, as estimate_loss
    measures them (in float32)."""
    measure = dict(
        batch_size=recipe.batch_size,
        batches=recipe.eval_batches,
        device=device,
        objective=objective,
    )
    history = state.history
    history["eval_step"].append(state.step)
    history["train_loss"].append(estimate_loss(unwrap(model), train_draw, **measure))
    history["val_loss"].append(estimate_loss(unwrap(model), val_draw, **measure))


def _check_split(recipe: TrainConfig, world_size: int) -> None:
    """A ValueError unless each process gets an equal share of the batch, cut into
    equal micro-batches."""
    if recipe.batch_size % (world_size * recipe.grad_accum):
        raise ValueError(
            f"batch_size={recipe.batch_size} cannot be split among {world_size} "
            f"processes of {recipe.grad_accum} equal micro-batches each: choose a "
            f"multiple of {world_size * recipe.grad_accum}."
        )


def _progress_bar(state: TrainState, recipe: TrainConfig, until, show: bool) -> tqdm:
    """The steps still to take, as a progress bar (silent unless `show`)."""
    # At most one redraw a second: plenty for a person, and few messages for a notebook.
    # A test runner that collects a cell's output only when the cell ends keeps about
    # 1000 messages (ZeroMQ's buffer), and a bar redrawn ten times a second would
    # overflow it in under two minutes.
    return tqdm(
        range(state.step, min(recipe.steps, until or recipe.steps)),
        initial=state.step,
        total=recipe.steps,
        desc="training",
        mininterval=1.0,
        disable=not show,
    )


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_data: torch.Tensor | Callable[..., Batch],
    val_data: torch.Tensor | Callable[..., Batch],
    recipe: TrainConfig,
    state: TrainState | None = None,
    *,
    objective: Objective = next_token_loss,
    device: str | torch.device = "cpu",
    until: int | None = None,
    progress: bool = True,
    on_eval: Callable[[TrainState], None] | None = None,
    rank: int = 0,
    world_size: int = 1,
) -> TrainState:
    """Minimise `objective` from state.step to recipe.steps (or to step `until`); return
    the state, which holds the history: pass it back in (or resume_state's) to go on.

    The data are token ids (windows of the model's context) or sources of batches,
    draw(batch_size, generator) -> a tuple of tensors. With world_size > 1
    (torch.distributed, the model wrapped in DistributedDataParallel) every process
    draws the same batch and trains on its slice of every tensor in it: the run matches
    one process step for step (grad_accum cuts each slice again). Evaluation: float32.
    """
    state = state if state is not None else TrainState.start(recipe.seed)
    _check_split(recipe, world_size)
    train_draw, val_draw = _source(train_data, model), _source(val_data, model)
    share = recipe.batch_size // world_size
    mine = slice(rank * share, (rank + 1) * share)
    # float16's narrow range needs the loss scaled up before backward (and the gradient
    # back down before the step), or small gradients round to zero; bfloat16 does not.
    scaler = None
    if recipe.dtype == "float16":
        scaler = torch.amp.GradScaler(torch.device(device).type)
    model.train()
    bar = _progress_bar(state, recipe, until, progress and rank == 0)
    for step in bar:
        lr = lr_at(step, recipe)
        batch = train_draw(recipe.batch_size, state.generator)
        batch = tuple(t[mine].to(device) for t in batch)
        options = dict(grad_accum=recipe.grad_accum, dtype=recipe.dtype, scaler=scaler)
        options["objective"] = objective
        loss = train_step(model, optimizer, batch, lr, recipe.grad_clip, **options)
        if world_size > 1:  # log the whole batch's loss: the mean of the processes'
            dist.all_reduce(loss)
            loss /= world_size
        state.step = step + 1
        for key, value in (("step", state.step), ("loss", loss.item()), ("lr", lr)):
            state.history[key].append(value)
        if state.step % recipe.eval_interval == 0 or state.step == recipe.steps:
            _evaluate(model, train_draw, val_draw, recipe, state, objective, device)
            h = state.history
            bar.set_postfix(
                train=f"{h['train_loss'][-1]:.3f}", val=f"{h['val_loss'][-1]:.3f}"
            )
            if on_eval is not None:
                on_eval(state)
    bar.close()
    return state


# %% chapters/09_training.ipynb 22
# A preset names GPTConfig and TrainConfig fields; the fields it leaves out keep the
# dataclasses' defaults.
PRESETS: dict[str, dict] = {
    # this chapter's course model and recipe: GPTConfig's and TrainConfig's defaults
    "course": {},
    "tiny": dict(
        n_layer=2,
        n_head=2,
        n_embd=32,
        block_size=32,
        steps=40,
        batch_size=8,
        warmup_steps=5,
        eval_interval=10,
        eval_batches=4,
    ),  # a smoke test: seconds on a CPU
    "wide": dict(
        n_layer=4,
        n_head=4,
        n_embd=128,
        batch_size=12,
        steps=6000,
        lr=2e-3,
        min_lr=2e-4,
        warmup_steps=200,
        eval_interval=500,
    ),  # 4 blocks of 4 heads, 128 wide: ~0.8 M parameters
}


def preset_configs(
    name: str, vocab_size: int, **changes
) -> tuple[GPTConfig, TrainConfig]:
    """The model and the recipe that a preset names, with any of their fields changed by
    keyword."""
    if name not in PRESETS:
        raise ValueError(
            f"unknown preset {name!r}: choose one of {', '.join(map(repr, PRESETS))}"
        )
    settings = {**PRESETS[name], **changes}
    model_fields = {f.name for f in fields(GPTConfig)} - {"vocab_size"}
    train_fields = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(settings) - model_fields - train_fields)
    if unknown:
        raise ValueError(
            f"{', '.join(unknown)}: not a field of GPTConfig or TrainConfig"
        )
    model = {k: v for k, v in settings.items() if k in model_fields}
    return GPTConfig(vocab_size=vocab_size, **model), TrainConfig(
        **{k: v for k, v in settings.items() if k in train_fields}
    )


# The public names above, computed by scripts/export.py.
__all__ = [
    "default_device",
    "unwrap",
    "resolve_device",
    "DTYPES",
    "TrainConfig",
    "lr_at",
    "Batch",
    "Objective",
    "next_token_loss",
    "windows",
    "estimate_loss",
    "make_optimizer",
    "TrainState",
    "train_step",
    "train",
    "PRESETS",
    "preset_configs",
]
