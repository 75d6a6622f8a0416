# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/09_training.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

"""Training the GPT: the learning-rate schedule, evaluation, the resumable loop and checkpoints."""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn
from tqdm.auto import tqdm

from gptcore.data import CharTokenizer, get_batch
from gptcore.model import GPT, GPTConfig

__all__ = ["default_device", "TrainConfig", "lr_at", "estimate_loss", "make_optimizer", "new_history", "TrainState",
           "train", "CheckpointError", "save_checkpoint", "load_checkpoint", "resume_state", "load_model"]


def default_device() -> str:
    """The fastest device here: 'cuda' if a GPU is present, else 'mps' (Apple silicon), else 'cpu'."""
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


@dataclass
class TrainConfig:
    """The training recipe: how long, how big a batch, how fast, and how often to evaluate."""

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

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_interval", "eval_batches"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {getattr(self, name)}")
        if not 0 <= self.warmup_steps <= self.steps:
            raise ValueError(f"warmup_steps={self.warmup_steps} must be between 0 and steps={self.steps}")
        if not 0 < self.min_lr <= self.lr:
            raise ValueError(f"need 0 < min_lr <= lr, got min_lr={self.min_lr} and lr={self.lr}")
        if self.grad_clip < 0 or self.weight_decay < 0:
            raise ValueError(f"grad_clip and weight_decay must be >= 0 (grad_clip=0 turns clipping off), "
                             f"got {self.grad_clip} and {self.weight_decay}")


def lr_at(step: int, config: TrainConfig) -> float:
    """The learning rate at a step (counted from 0): linear warm-up to config.lr, then cosine decay to min_lr."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def estimate_loss(model: nn.Module, data: torch.Tensor, block_size: int, batch_size: int = 32, batches: int = 20,
                  seed: int = 1234, device: str | torch.device = "cpu") -> float:
    """Mean loss over the same `batches` batches on every call (a seeded generator), in eval mode, no gradients."""
    was_training = model.training
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    for _ in range(batches):
        x, y = get_batch(data, batch_size, block_size, generator=generator, device=device)
        _, loss = model(x, y)
        total += loss.item()
    model.train(was_training)
    return total / batches


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay shrinks the matrices only, never the biases or the layer norms' gains."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.99))


def new_history() -> dict[str, list]:
    """Empty loss records: every step's loss and learning rate, and each evaluation's train and val loss."""
    return {"step": [], "loss": [], "lr": [], "eval_step": [], "train_loss": [], "val_loss": []}


@dataclass
class TrainState:
    """Where a run stands: the steps taken, the generator that draws the batches, and the losses so far."""

    step: int = 0
    generator: torch.Generator = field(default_factory=torch.Generator)
    history: dict[str, list] = field(default_factory=new_history)

    @classmethod
    def start(cls, seed: int) -> TrainState:
        """A fresh run whose batches come from a generator seeded with `seed`."""
        return cls(generator=torch.Generator().manual_seed(seed))


def train(model: nn.Module, optimizer: torch.optim.Optimizer, train_data: torch.Tensor, val_data: torch.Tensor,
          config: TrainConfig, state: TrainState | None = None, *, device: str | torch.device = "cpu",
          until: int | None = None, progress: bool = True, on_eval: Callable[[TrainState], None] | None = None,
          rank: int = 0, world_size: int = 1) -> TrainState:
    """Train from state.step to config.steps (or to step `until`); return the state, history included.

    Pass the state back in (or one from resume_state) to carry on from where the run stopped.

    With world_size > 1 (torch.distributed, the model wrapped in DistributedDataParallel) every process draws
    the same batch and trains on its own slice of it, so the run matches one process step for step.
    """
    state = state if state is not None else TrainState.start(config.seed)
    if config.batch_size % world_size:
        raise ValueError(f"batch_size={config.batch_size} is not divisible by the {world_size} processes: "
                         f"choose a batch size that is a multiple of the number of processes.")
    core = getattr(model, "module", model)  # the GPT itself, when wrapped in DistributedDataParallel
    block_size, share = core.config.block_size, config.batch_size // world_size
    mine = slice(rank * share, (rank + 1) * share)
    history = state.history
    model.train()
    # At most one redraw a second: plenty for a person, and few messages for a notebook. A test runner that
    # collects a cell's output only when the cell ends keeps about 1000 messages (ZeroMQ's buffer), and a
    # bar redrawn ten times a second would overflow it in under two minutes.
    bar = tqdm(range(state.step, min(config.steps, until or config.steps)), initial=state.step, total=config.steps,
               desc="training", mininterval=1.0,
               disable=not progress or rank != 0)
    for step in bar:
        lr = lr_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_data, config.batch_size, block_size, generator=state.generator)
        _, loss = model(x[mine].to(device), y[mine].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # with DistributedDataParallel, this also averages the gradients of all processes
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        loss = loss.detach()
        if world_size > 1:  # log the whole batch's loss: the mean of the processes' losses
            dist.all_reduce(loss)
            loss /= world_size
        state.step = step + 1
        history["step"].append(state.step)
        history["loss"].append(loss.item())
        history["lr"].append(lr)
        if state.step % config.eval_interval == 0 or state.step == config.steps:
            measure = dict(block_size=block_size, batch_size=config.batch_size, batches=config.eval_batches,
                           device=device)
            history["eval_step"].append(state.step)
            history["train_loss"].append(estimate_loss(core, train_data, **measure))
            history["val_loss"].append(estimate_loss(core, val_data, **measure))
            bar.set_postfix(train=f"{history['train_loss'][-1]:.3f}", val=f"{history['val_loss'][-1]:.3f}")
            if on_eval is not None:
                on_eval(state)
    bar.close()
    return state


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, incomplete, or made for another model or vocabulary."""


CHECKPOINT_KEYS = ("model", "config", "tokenizer", "optimizer", "step", "rng", "history", "train_config")


def save_checkpoint(path: str | Path, model: nn.Module, tokenizer: CharTokenizer,
                    optimizer: torch.optim.Optimizer | None = None, state: TrainState | None = None,
                    train_config: TrainConfig | None = None) -> Path:
    """Write everything needed to use or resume a run to one file, atomically: a crash leaves the old file intact."""
    core = getattr(model, "module", model)
    checkpoint = {
        "model": core.state_dict(),
        "config": asdict(core.config),
        "tokenizer": tokenizer.to_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": state.step if state is not None else 0,
        "rng": {"batches": state.generator.get_state() if state is not None else None,  # the batches to come
                "torch": torch.get_rng_state(),  # dropout's random numbers, on the CPU and on GPUs
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
        "history": state.history if state is not None else new_history(),
        "train_config": asdict(train_config) if train_config is not None else None,
    }
    path = Path(path)
    # A temporary file in the same folder (so the rename below stays on one file system), then os.replace,
    # which swaps it in as one atomic step: a reader sees the old file or the new one, never half of one.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes the file private to its owner; a checkpoint is ordinary data
        with os.fdopen(fd, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())  # on disk, not just in the operating system's cache, before the swap
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, model: nn.Module | None = None, tokenizer: CharTokenizer | None = None,
                    optimizer: torch.optim.Optimizer | None = None, device: str | torch.device = "cpu") -> dict:
    """Read a checkpoint safely (weights_only); check that it fits the model and tokenizer given; load their states."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: check the path, or train one with `python -m gptcore.train`")
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupt?): {error}. "
                              "Use another copy, or re-create it with `python -m gptcore.train`.") from error
    missing = [key for key in CHECKPOINT_KEYS if not isinstance(checkpoint, dict) or key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}: it was not written by gptcore's save_checkpoint.")
    if tokenizer is not None and checkpoint["tokenizer"] != tokenizer.to_dict():
        theirs, ours = CharTokenizer.from_dict(checkpoint["tokenizer"]).vocab, tokenizer.vocab
        only_theirs, only_ours = "".join(sorted(set(theirs) - set(ours))), "".join(sorted(set(ours) - set(theirs)))
        detail = ("the same characters, numbered in another order" if set(theirs) == set(ours) else
                  f"{len(theirs)} characters, not these {len(ours)}; only in the checkpoint: {only_theirs!r}, "
                  f"only here: {only_ours!r}")
        raise CheckpointError(f"{path} was made with another vocabulary ({detail}): use the text it was trained on.")
    if model is not None:
        ours, theirs = asdict(getattr(model, "module", model).config), checkpoint["config"]
        differences = [f"{k}={theirs.get(k)} in the checkpoint but {v} in the model" for k, v in ours.items()
                       if theirs.get(k) != v]
        if differences:
            raise CheckpointError(f"{path} was made for another model: {'; '.join(differences)}. "
                                  "Build the model from the checkpoint (load_model), or train a new one.")
    if optimizer is not None and checkpoint["optimizer"] is None:
        raise CheckpointError(f"{path} holds no optimizer state, so its training cannot be resumed.")
    if model is not None:
        getattr(model, "module", model).load_state_dict(checkpoint["model"])
    if optimizer is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint


def resume_state(checkpoint: dict) -> TrainState:
    """The TrainState a checkpoint was saved at; also restores torch's global RNG (dropout) as it was."""
    if checkpoint["rng"]["batches"] is None:
        raise CheckpointError("this checkpoint was saved without a training state, so it cannot be resumed")
    generator = torch.Generator()
    generator.set_state(checkpoint["rng"]["batches"].cpu())
    torch.set_rng_state(checkpoint["rng"]["torch"].cpu())
    if checkpoint["rng"].get("cuda") and len(checkpoint["rng"]["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([state.cpu() for state in checkpoint["rng"]["cuda"]])
    return TrainState(step=checkpoint["step"], generator=generator, history=checkpoint["history"])


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[GPT, CharTokenizer]:
    """The trained model (in eval mode, on `device`) and its tokenizer, from a checkpoint file."""
    checkpoint = load_checkpoint(path, device=device)
    model = GPT(GPTConfig(**checkpoint["config"]))
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval(), CharTokenizer.from_dict(checkpoint["tokenizer"])
