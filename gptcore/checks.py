"""Input checks that every module shares: one home, and one wording, for each kind of
mistake.

A wrong type is a TypeError and a wrong value a ValueError; each message names the
problem and the fix.
"""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/02_self_attention_head.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/02_self_attention_head.ipynb 25
import math

import torch


def check_positive_int(name: str, value: object) -> int:
    """Return value if it is an int of at least 1; else a TypeError or ValueError naming
    it."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(
            f"{name} must be an int, got {value!r} ({type(value).__name__})"
        )
    if value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


def check_count(name: str, value: object) -> int:
    """Return value if it is an int of at least 0 (a number of things to make); else a
    clear error."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(
            f"{name} must be an int, got {value!r} ({type(value).__name__})"
        )
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def check_probability(name: str, value: object) -> float:
    """Return value if it is a number in [0, 1), such as a dropout rate; else a clear
    error."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(
            f"{name} must be a number, got {value!r} ({type(value).__name__})"
        )
    if not 0.0 <= value < 1.0:
        raise ValueError(
            f"{name} is a probability in [0, 1), got {value} "
            "(1 would zero every activation)"
        )
    return float(value)


def check_number(name: str, value: object) -> float:
    """Return value as a float if it is a finite int or float; else a TypeError or a
    ValueError naming it."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(
            f"{name} must be a number, got {value!r} ({type(value).__name__})"
        )
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return float(value)


def check_flag(name: str, value: object) -> bool:
    """Return value if it is True or False; else a TypeError naming it."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """Return value if it is one of choices; else a ValueError listing them."""
    if value not in choices:
        raise ValueError(
            f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}"
        )
    return value


def check_width(x: torch.Tensor, n_embd: int) -> None:
    """A ValueError unless x is (..., n_embd): vectors of the width the module was built
    for."""
    if x.dim() == 0 or x.size(-1) != n_embd:
        width = x.size(-1) if x.dim() else None
        raise ValueError(
            f"expected vectors of width n_embd={n_embd} in the last dimension, got "
            f"shape {tuple(x.shape)}: build the module with n_embd={width} or fix "
            "the input."
        )


def check_length(length: int, block_size: int) -> None:
    """A ValueError if a sequence of `length` positions does not fit the context
    block_size."""
    if length > block_size:
        raise ValueError(
            f"sequence length {length} is longer than block_size={block_size}, the "
            f"context this model was built for: pass at most the last {block_size} "
            f"positions, x[:, -{block_size}:]."
        )


def check_vectors(x: torch.Tensor, n_embd: int, block_size: int) -> None:
    """A ValueError unless x is (batch, time, n_embd) with time <= block_size."""
    if x.dim() != 3:
        raise ValueError(
            f"expected a (batch, time, {n_embd}) tensor of vectors, got shape "
            f"{tuple(x.shape)}: embed token ids first, and add a batch dimension "
            "with x.unsqueeze(0) for one sequence."
        )
    check_width(x, n_embd)
    check_length(x.size(1), block_size)


def check_config(model: str, config: object, kind: type, example: str = "") -> None:
    """A TypeError unless config is a `kind`: the model class, the config it takes,
    and how to build one (chapter 8's models and their configs)."""
    if not isinstance(config, kind):
        hint = f", e.g. {example}" if example else ""
        raise TypeError(
            f"{model} takes a {kind.__name__}{hint}; got {type(config).__name__}"
        )


def check_token_ids(idx: torch.Tensor, vocab_size: int) -> None:
    """A TypeError unless idx holds integers, a ValueError unless they lie in [0,
    vocab_size)."""
    if not isinstance(idx, torch.Tensor):
        raise TypeError(
            f"token ids must be a tensor, got {type(idx).__name__}: "
            "use torch.tensor(ids)"
        )
    if idx.dtype.is_floating_point or idx.dtype.is_complex or idx.dtype == torch.bool:
        raise TypeError(
            f"token ids must be an integer tensor, got dtype {idx.dtype}: "
            "use idx.long()"
        )
    if idx.numel() and (idx.min() < 0 or idx.max() >= vocab_size):
        raise ValueError(
            f"token ids must lie in [0, {vocab_size}), got values from "
            f"{idx.min().item()} to {idx.max().item()}: encode the text with the "
            "model's own tokenizer"
        )


# The public names above, computed by scripts/export.py.
__all__ = [
    "check_positive_int",
    "check_count",
    "check_probability",
    "check_number",
    "check_flag",
    "check_choice",
    "check_width",
    "check_length",
    "check_vectors",
    "check_config",
    "check_token_ids",
]
