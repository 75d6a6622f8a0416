"""gptcore: a GPT built chapter by chapter in the course notebooks."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: the "api" lists in the metadata of chapters/*.ipynb.
# Edit the notebooks, then run `python scripts/export.py` to regenerate this file.

import importlib

# Where each public name lives. A name is imported from its module the first
# time it is used, so `import gptcore` (and the `gptcore` command) loads only
# the chapters it needs.
_HOMES = {
    "shakespeare": "data",
    "CharTokenizer": "data",
    "get_batch": "data",
    "MultiHeadAttention": "attention",
    "FeedForward": "feedforward",
    "LayerNorm": "layer_norm",
    "Block": "block",
    "GPTConfig": "model",
    "GPT": "model",
    "default_device": "training",
    "TrainConfig": "training",
    "train": "training",
    "CheckpointError": "checkpoint",
    "save_checkpoint": "checkpoint",
    "load_checkpoint": "checkpoint",
    "load_model": "checkpoint",
    "generate": "generation",
    "generate_text": "generation",
    "gpt2_config": "gpt2",
    "to_huggingface": "gpt2",
    "ModernConfig": "modern",
    "ModernGPT": "modern",
    "load_pretrained": "pretrained",
    "save_pretrained": "pretrained",
    "BPETokenizer": "bpe",
    "add_lora": "lora",
    "merge_lora": "lora",
    "ChatTokenizer": "chat",
    "quantize_model": "inference",
}

__all__ = [
    "__version__",
    "shakespeare",
    "CharTokenizer",
    "get_batch",
    "MultiHeadAttention",
    "FeedForward",
    "LayerNorm",
    "Block",
    "GPTConfig",
    "GPT",
    "default_device",
    "TrainConfig",
    "train",
    "CheckpointError",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "generate",
    "generate_text",
    "gpt2_config",
    "to_huggingface",
    "ModernConfig",
    "ModernGPT",
    "load_pretrained",
    "save_pretrained",
    "BPETokenizer",
    "add_lora",
    "merge_lora",
    "ChatTokenizer",
    "quantize_model",
]


def __getattr__(name: str) -> object:
    """A public name, imported from its module on first use (PEP 562)."""
    if name == "__version__":
        from importlib import metadata

        try:
            value = metadata.version("gptcore")
        except metadata.PackageNotFoundError:  # a checkout, not installed
            value = "0+unknown"
    elif name in _HOMES:
        module = importlib.import_module(f".{_HOMES[name]}", __name__)
        value = getattr(module, name)
    else:
        raise AttributeError(f"module {__name__!r} has no {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, with the public ones not yet imported."""
    return sorted({*globals(), *__all__})
