"""GPT-2's published sizes as gptcore configurations, and a bridge to Hugging Face
transformers' GPT-2.
"""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/12_every_llm.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/12_every_llm.ipynb 4
from typing import TYPE_CHECKING

import torch

from gptcore.model import GPT, GPTConfig

if TYPE_CHECKING:  # only for the type hint: gptcore itself never needs transformers
    from transformers import GPT2LMHeadModel

# depth, heads and width of the four released GPT-2 models
GPT2_SIZES: dict[str, dict[str, int]] = {
    "small": dict(n_layer=12, n_head=12, n_embd=768),
    "medium": dict(n_layer=24, n_head=16, n_embd=1024),
    "large": dict(n_layer=36, n_head=20, n_embd=1280),
    "xl": dict(n_layer=48, n_head=25, n_embd=1600),
}


def gpt2_config(size: str = "small") -> GPTConfig:
    """GPT-2's shape at one of its four sizes: 50257 tokens, 1024 positions, tied
    embeddings, biases.
    """
    if size not in GPT2_SIZES:
        raise ValueError(
            f"unknown GPT-2 size {size!r}: choose one of "
            f"{', '.join(map(repr, GPT2_SIZES))}"
        )
    return GPTConfig(
        vocab_size=50257,
        block_size=1024,
        dropout=0.0,
        bias=True,
        tie_weights=True,
        **GPT2_SIZES[size],
    )


def is_gpt2(config: GPTConfig) -> bool:
    """Whether GPT(config) is a GPT-2: chapter 8's GPTConfig, with biases everywhere."""
    return type(config) is GPTConfig and config.bias


# %% chapters/12_every_llm.ipynb 16
def gpt2_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """model's weights (not copies) under transformers' GPT-2 names, Linear weights
    transposed to Conv1D's (in, out).
    """
    sd = {
        "transformer.wte.weight": model.embed.token.weight,
        "transformer.wpe.weight": model.embed.position.weight,
    }
    for i, b in enumerate(model.blocks):
        h = f"transformer.h.{i}."
        sd |= {
            h + "ln_1.weight": b.ln1.weight,
            h + "ln_1.bias": b.ln1.bias,
            h + "attn.c_attn.weight": b.attn.qkv.weight.T,
            h + "attn.c_attn.bias": b.attn.qkv.bias,
            h + "attn.c_proj.weight": b.attn.proj.weight.T,
            h + "attn.c_proj.bias": b.attn.proj.bias,
            h + "ln_2.weight": b.ln2.weight,
            h + "ln_2.bias": b.ln2.bias,
            h + "mlp.c_fc.weight": b.ffn.fc.weight.T,
            h + "mlp.c_fc.bias": b.ffn.fc.bias,
            h + "mlp.c_proj.weight": b.ffn.proj.weight.T,
            h + "mlp.c_proj.bias": b.ffn.proj.bias,
        }
    # the token embedding itself when the weights are tied
    sd |= {
        "transformer.ln_f.weight": model.ln_f.weight,
        "transformer.ln_f.bias": model.ln_f.bias,
        "lm_head.weight": model.lm_head.weight,
    }
    return sd


def gpt2_hf_settings(config: GPTConfig) -> dict:
    """The GPT2Config settings (config.json keys) of the transformers GPT-2 that is
    GPT(config): the one place both bridges (here and chapter 13's) spell them.
    """
    c = config
    return dict(
        vocab_size=c.vocab_size,
        n_positions=c.block_size,
        n_embd=c.n_embd,
        n_layer=c.n_layer,
        n_head=c.n_head,
        n_inner=None,  # the feed-forward widens to 4 * n_embd
        activation_function="gelu_new",
        layer_norm_epsilon=1e-5,  # LayerNorm's eps (chapter 6)
        resid_pdrop=c.dropout,
        embd_pdrop=c.dropout,
        attn_pdrop=c.dropout,
        tie_word_embeddings=c.tie_weights,
        bos_token_id=None,
        eos_token_id=None,
    )


def to_huggingface(model: GPT) -> "GPT2LMHeadModel":
    """A transformers GPT2LMHeadModel (eval mode) holding a copy of model's weights: to
    check against the reference.
    """
    # imported here, so gptcore never needs transformers
    from transformers import (
        GPT2Config,
        GPT2LMHeadModel,
    )

    c = model.config
    if not is_gpt2(c):
        raise ValueError(
            "GPT-2 has a bias in every linear layer and layer norm: build the "
            "model as GPT(GPTConfig(..., bias=True)) to convert it"
        )
    hf_config = GPT2Config(**gpt2_hf_settings(c))
    with torch.device("meta"):  # shapes only: the weights come from model
        hf = GPT2LMHeadModel(hf_config)
    weights = {
        k: v.detach().clone(memory_format=torch.contiguous_format)
        for k, v in gpt2_state_dict(model).items()
    }
    hf.load_state_dict(weights, strict=True, assign=True)
    if c.tie_weights:
        # assign=True gave lm_head its own copy; share wte again, as GPT-2 does
        hf.tie_weights()
    return hf.eval()


# The public names above, computed by scripts/export.py.
__all__ = [
    "GPT2_SIZES",
    "gpt2_config",
    "is_gpt2",
    "gpt2_state_dict",
    "gpt2_hf_settings",
    "to_huggingface",
]
