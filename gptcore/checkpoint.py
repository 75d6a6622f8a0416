"""Checkpoints: a run's model, vocabulary, optimiser and state in one file, written
atomically."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/09_training.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/09_training.ipynb 32
from __future__ import annotations

import pickle
import warnings
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from gptcore.data import CharTokenizer, write_atomically
from gptcore.model import GPT, GPTConfig
from gptcore.training import TrainConfig, TrainState, unwrap

if TYPE_CHECKING:  # only for the type hints: chapters 14 and 16 define them
    from gptcore.bpe import BPETokenizer
    from gptcore.chat import ChatTokenizer


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used: unreadable, incomplete, or made for
    another model or vocabulary."""


def tokenizer_from_dict(state: dict) -> CharTokenizer | BPETokenizer | ChatTokenizer:
    """The tokenizer a checkpoint holds: characters (chapter 1), byte-level BPE
    (chapter 14), or either with a chat's special tokens (chapter 16)."""
    kind = state.get("type") if isinstance(state, dict) else None
    if kind == "char":
        return CharTokenizer.from_dict(state)
    if kind == "bpe":
        # Chapter 14's tokenizer, imported only when a checkpoint holds one, so that
        # this chapter needs nothing from a later one.
        from gptcore.bpe import BPETokenizer

        return BPETokenizer.from_dict(state)
    if kind == "chat":
        # Chapter 16's, likewise: a tokenizer with special tokens, read only when a
        # checkpoint holds one.
        from gptcore.chat import ChatTokenizer

        return ChatTokenizer.from_dict(state)
    raise CheckpointError(
        f"unknown tokenizer type {kind!r} in the checkpoint: gptcore writes 'char', "
        "'bpe' or 'chat'; was the file made by a newer gptcore?"
    )


def _check_weights(path: Path, weights: dict, model: nn.Module) -> None:
    """Fail with the tensor's name and both shapes, before load_state_dict fails
    with a wall of them."""
    expected = model.state_dict()
    missing = [name for name in expected if name not in weights]
    extra = [name for name in weights if name not in expected]
    if missing or extra:
        raise CheckpointError(
            f"{path}: its weights do not fit its config: missing {missing[:3]}, "
            f"unexpected {extra[:3]}. Was the file edited, or written by another "
            "program? Re-create it with `gptcore train`."
        )
    for name, tensor in weights.items():
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(
                f"{path}: tensor {name} has shape {tuple(tensor.shape)} in the file, "
                f"but the model needs {tuple(expected[name].shape)}: the weights and "
                "the config in it disagree. Re-create it with `gptcore train`."
            )


def variant_classes() -> tuple[type[GPTConfig], type[GPT]]:
    """The config and model classes of today's variants (chapter 13), for settings
    that name them."""
    # Chapter 13's, imported only when a checkpoint or a flag names one of its options,
    # so that this chapter needs nothing from a later one.
    from gptcore.modern import ModernConfig, ModernGPT

    return ModernConfig, ModernGPT


def config_from_settings(settings: dict) -> GPTConfig:
    """Chapter 8's GPTConfig, unless the settings change a field that only chapter 13's
    config has: then that config."""
    plain = {field.name for field in fields(GPTConfig)}
    if set(settings) <= plain:
        return GPTConfig(**settings)
    variant, _ = variant_classes()
    defaults = {field.name: field.default for field in fields(variant)}
    extra = {k: v for k, v in settings.items() if k not in plain}
    if all(k in defaults and defaults[k] == v for k, v in extra.items()):
        return GPTConfig(**{k: v for k, v in settings.items() if k in plain})
    return variant(**settings)


def model_for(config: GPTConfig) -> GPT:
    """A new model of the class the config belongs to: GPT, or chapter 13's."""
    variant, variant_model = variant_classes()
    return variant_model(config) if type(config) is variant else GPT(config)


def _settings(
    path: Path, kind: type[GPTConfig] | type[TrainConfig], saved: object, key: str
) -> GPTConfig | TrainConfig:
    """A checkpoint's saved settings as `kind`, or a CheckpointError saying why not."""
    if not isinstance(saved, dict):
        raise CheckpointError(
            f"{path}: its {key} is {type(saved).__name__}, not a dict of settings: it "
            "was not written by gptcore's save_checkpoint."
        )
    known = {field.name for field in fields(kind)}
    if kind is GPTConfig and not set(saved) <= known:
        known |= {field.name for field in fields(variant_classes()[0])}
    unknown = sorted(map(str, set(saved) - known))
    if unknown:
        raise CheckpointError(
            f"{path} was made by a newer gptcore (unknown settings: "
            f"{', '.join(unknown)}): upgrade gptcore."
        )
    try:  # an older file: the later fields take their defaults
        return config_from_settings(saved) if kind is GPTConfig else kind(**saved)
    except (TypeError, ValueError) as error:
        raise CheckpointError(
            f"{path} has an invalid {key}: {error}. Was the file edited? Re-create it "
            "with `gptcore train`."
        ) from error


_CHECKPOINT_KEYS = (
    "model",
    "config",
    "tokenizer",
    "optimizer",
    "step",
    "rng",
    "history",
    "train_config",
)


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    tokenizer: CharTokenizer | BPETokenizer,
    optimizer: torch.optim.Optimizer | None = None,
    state: TrainState | None = None,
    recipe: TrainConfig | None = None,
) -> Path:
    """Write everything needed to use or resume a run to one file, atomically: a crash
    leaves the old file intact."""
    core = unwrap(model)
    checkpoint = {
        "model": core.state_dict(),
        "config": asdict(core.config),
        "tokenizer": tokenizer.to_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": state.step if state is not None else 0,
        "rng": {
            "batches": state.generator.get_state()
            if state is not None
            else None,  # the batches to come
            # dropout's random numbers, on the CPU and on GPUs
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        },
        "history": state.history if state is not None else TrainState().history,
        # the recipe, under the key that files have always used
        "train_config": asdict(recipe) if recipe is not None else None,
    }
    if hasattr(core, "quantization"):  # chapter 19's quantize_model: its settings
        checkpoint["quantization"] = core.quantization
    path = Path(path)
    # A temporary file in the same folder, then one os.replace: a reader sees the old
    # file or the new one, never half of one.
    write_atomically(path, lambda tmp: torch.save(checkpoint, tmp))
    return path


# %% chapters/09_training.ipynb 33
def _read(path: Path, device: str | torch.device) -> object:
    """What a checkpoint file holds, read safely (weights_only), or a clear error: a
    folder, no file, not a checkpoint, or unreadable."""
    if path.is_dir():
        found = sorted(str(file) for file in path.glob("*.pt") if file.is_file())
        raise IsADirectoryError(
            f"{path} is a folder: give a checkpoint file in it: {', '.join(found[:5])}"
            + (", ..." if len(found) > 5 else "")
            if found
            else f"{path} is a folder, with no .pt file in it: give a checkpoint "
            "file, or train one with `gptcore train`"
        )
    if not path.is_file():
        raise FileNotFoundError(
            f"no checkpoint at {path}: check the path, or train one with `gptcore "
            "train`"
        )
    with path.open("rb") as f:
        start = f.read(4)
    if start and not start.startswith(
        (b"PK\x03\x04", b"\x80")
    ):  # torch.save's zip; a pickle
        raise CheckpointError(
            f"{path} is not a checkpoint at all (it begins {start!r}, and torch.save "
            "writes a zip archive): give the .pt file that `gptcore train` saved"
        )
    try:
        with warnings.catch_warnings():  # torch's aside on a plain pickle's protocol
            warnings.filterwarnings("ignore", "Detected pickle protocol")
            checkpoint = torch.load(path, map_location=device, weights_only=True)
    except Exception as error:
        # One sentence of our own: torch's text advises weights_only=False, a load
        # that would run whatever code the file holds.
        refused = "Weights only load failed" in str(error)  # the safe load said no
        if isinstance(error, pickle.UnpicklingError) and refused:
            reason = (
                "it holds Python objects besides tensors, which a safe load refuses "
                "because they could run code, so it was not written by gptcore's "
                "save_checkpoint"
            )
        else:
            first = str(error).strip().split("\n")[0].split(". ")[0]
            reason = "it is truncated, corrupt or not a checkpoint" + (
                f" ({type(error).__name__}: {first})" if first else ""
            )
        raise CheckpointError(
            f"{path} is not a readable checkpoint: {reason}; use another "
            "copy, or re-create it with `gptcore train`."
        ) from error
    return checkpoint


def _check_tokenizer(
    path: Path, saved_tokenizer: dict, tokenizer: CharTokenizer | BPETokenizer
) -> None:
    """A CheckpointError unless the checkpoint's tokenizer is the one given."""
    if (
        saved_tokenizer != tokenizer.to_dict()
        # only two character tokenizers can be compared character by character
        and (saved_tokenizer.get("type"), tokenizer.to_dict()["type"])
        != ("char", "char")
    ):
        raise CheckpointError(
            f"{path} was made with another tokenizer ({saved_tokenizer['type']}, "
            f"{tokenizer_from_dict(saved_tokenizer).vocab_size} tokens; here "
            f"{tokenizer.to_dict()['type']}, {tokenizer.vocab_size}): use the text and "
            "tokenizer it was trained with."
        )
    if saved_tokenizer != tokenizer.to_dict():
        theirs, ours = (
            getattr(tokenizer_from_dict(saved_tokenizer), "vocab", ""),
            getattr(tokenizer, "vocab", ""),
        )
        only_theirs, only_ours = (
            "".join(sorted(set(theirs) - set(ours))),
            "".join(sorted(set(ours) - set(theirs))),
        )
        detail = (
            "the same characters, numbered in another order"
            if set(theirs) == set(ours)
            else f"{len(theirs)} characters, not these {len(ours)}; "
            f"only in the checkpoint: {only_theirs!r}, only here: {only_ours!r}"
        )
        raise CheckpointError(
            f"{path} was made with another vocabulary ({detail}): use the text it was "
            "trained on."
        )


def _check_model(path: Path, config: GPTConfig, model: nn.Module) -> None:
    """A CheckpointError unless the checkpoint was made for a model built like this
    one."""
    ours = asdict(unwrap(model).config)
    theirs = asdict(config)
    differences = [
        f"{k}={theirs.get(k)} in the checkpoint but {v} in the model"
        for k, v in ours.items()
        if theirs.get(k) != v
    ]
    if differences:
        raise CheckpointError(
            f"{path} was made for another model: {'; '.join(differences)}. "
            "Build the model from the checkpoint (load_model), or train a new one."
        )


def load_checkpoint(
    path: str | Path,
    model: nn.Module | None = None,
    tokenizer: CharTokenizer | BPETokenizer | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    device: str | torch.device = "cpu",
) -> dict:
    """Read a checkpoint safely (weights_only); check that it fits the model and
    tokenizer given; load their states."""
    path = Path(path)
    checkpoint = _read(path, device)
    missing = [
        key
        for key in _CHECKPOINT_KEYS
        if not isinstance(checkpoint, dict) or key not in checkpoint
    ]
    if missing:
        raise CheckpointError(
            f"{path} lacks {', '.join(missing)}: it was not written by gptcore's "
            "save_checkpoint."
        )
    config = _settings(path, GPTConfig, checkpoint["config"], "config")
    if checkpoint["train_config"] is not None:  # None: saved without a recipe
        _settings(path, TrainConfig, checkpoint["train_config"], "train_config")
    if tokenizer is not None:
        _check_tokenizer(path, checkpoint["tokenizer"], tokenizer)
    if model is not None:
        _check_model(path, config, model)
    if optimizer is not None and checkpoint["optimizer"] is None:
        raise CheckpointError(
            f"{path} holds no optimizer state, so its training cannot be resumed."
        )
    if model is not None:
        core = unwrap(model)
        _check_weights(path, checkpoint["model"], core)
        core.load_state_dict(checkpoint["model"])
    if optimizer is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint


def resume_state(checkpoint: dict) -> TrainState:
    """The TrainState a checkpoint was saved at; also restores torch's global RNG
    (dropout) as it was."""
    if checkpoint["rng"]["batches"] is None:
        raise CheckpointError(
            "this checkpoint was saved without a training state, so it cannot be "
            "resumed"
        )
    generator = torch.Generator()
    generator.set_state(checkpoint["rng"]["batches"].cpu())
    torch.set_rng_state(checkpoint["rng"]["torch"].cpu())
    if (
        checkpoint["rng"].get("cuda")
        and len(checkpoint["rng"]["cuda"]) == torch.cuda.device_count()
    ):
        torch.cuda.set_rng_state_all(
            [state.cpu() for state in checkpoint["rng"]["cuda"]]
        )
    return TrainState(
        step=checkpoint["step"], generator=generator, history=checkpoint["history"]
    )


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[GPT, CharTokenizer | BPETokenizer]:
    """The trained model (in eval mode, on `device`) and its tokenizer, from a
    checkpoint file."""
    checkpoint = load_checkpoint(path, device=device)
    model = model_for(_settings(Path(path), GPTConfig, checkpoint["config"], "config"))
    if "quantization" in checkpoint:  # saved quantized: chapter 19's layers first
        # imported only for such a file, so that this chapter needs nothing later
        from gptcore.inference import quantize_model

        quantize_model(model, **checkpoint["quantization"])
    _check_weights(Path(path), checkpoint["model"], model)
    model.load_state_dict(checkpoint["model"])
    return model.to(device).eval(), tokenizer_from_dict(checkpoint["tokenizer"])


# The public names above, computed by scripts/export.py.
__all__ = [
    "CheckpointError",
    "tokenizer_from_dict",
    "variant_classes",
    "config_from_settings",
    "model_for",
    "save_checkpoint",
    "load_checkpoint",
    "resume_state",
    "load_model",
]
