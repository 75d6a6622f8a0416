# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: the "api" lists in the metadata of chapters/*.ipynb.
# Edit the notebooks, then run `python scripts/export.py` to regenerate this file.

"""gptcore: a GPT built chapter by chapter in the course notebooks."""

import importlib.metadata

from .data import shakespeare, CharTokenizer, get_batch
from .attention import MultiHeadAttention
from .feedforward import FeedForward
from .layer_norm import LayerNorm
from .block import Block
from .model import GPTConfig, GPT
from .training import default_device, TrainConfig, train
from .checkpoint import CheckpointError, save_checkpoint, load_checkpoint, load_model
from .generation import generate, generate_text
from .gpt2 import gpt2_config, to_huggingface
from .modern import ModernConfig, ModernGPT
from .pretrained import load_pretrained, save_pretrained
from .bpe import BPETokenizer
from .lora import add_lora, merge_lora

try:
    __version__ = importlib.metadata.version("gptcore")
except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
    __version__ = "0+unknown"

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
]
