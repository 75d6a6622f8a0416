# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: every chapters/*.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

"""gptcore: a character-level GPT, built chapter by chapter in the course notebooks."""

from .data import play_files, read_play, remove_stage_directions, unescape_markdown, to_dialogue, clean_play, load_plays, VALIDATION_PLAYS, shakespeare, CharTokenizer, get_batch, load_text
from .head import Head, check_input
from .attention import head_size_for, ListOfHeadsAttention, MultiHeadAttention, fused_from_heads
from .feedforward import FeedForward, PlainBlock
from .residual import ResidualBlock
from .block import LayerNorm, Block
from .embeddings import Embeddings
from .model import GPTConfig, GPT, param_count_formula
from .training import default_device, TrainConfig, lr_at, estimate_loss, make_optimizer, new_history, TrainState, train, CheckpointError, save_checkpoint, load_checkpoint, resume_state, load_model
from .generate import sample_next, KVCache, forward_cached, generate, generate_text
from .gpt2 import GPT2_SIZES, gpt2_config, gpt2_state_dict, to_huggingface

__all__ = ['play_files', 'read_play', 'remove_stage_directions', 'unescape_markdown', 'to_dialogue', 'clean_play', 'load_plays', 'VALIDATION_PLAYS', 'shakespeare', 'CharTokenizer', 'get_batch', 'load_text', 'Head', 'check_input', 'head_size_for', 'ListOfHeadsAttention', 'MultiHeadAttention', 'fused_from_heads', 'FeedForward', 'PlainBlock', 'ResidualBlock', 'LayerNorm', 'Block', 'Embeddings', 'GPTConfig', 'GPT', 'param_count_formula', 'default_device', 'TrainConfig', 'lr_at', 'estimate_loss', 'make_optimizer', 'new_history', 'TrainState', 'train', 'CheckpointError', 'save_checkpoint', 'load_checkpoint', 'resume_state', 'load_model', 'sample_next', 'KVCache', 'forward_cached', 'generate', 'generate_text', 'GPT2_SIZES', 'gpt2_config', 'gpt2_state_dict', 'to_huggingface']
