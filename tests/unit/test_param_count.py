"""param_count_formula (chapter 8) and modern_param_count (chapter 13, today's options),
against the built models and published parameter counts.

The big models are built on the meta device: shapes only, no memory, nothing downloaded.
"""

import itertools

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from gptcore.model import GPT, GPTConfig, param_count_formula
from gptcore.modern import ModernConfig, ModernGPT, modern_param_count
from gptcore.pretrained import hf_config

LLAMA = dict(
    norm="rmsnorm", position="rope", ffn="swiglu", bias=False, tie_weights=False
)
PUBLISHED = {  # name -> (gptcore configuration, parameters in the published checkpoint)
    "Llama 2 7B": (
        ModernConfig(
            vocab_size=32000,
            block_size=4096,
            n_layer=32,
            n_head=32,
            n_embd=4096,
            ffn_hidden=11008,
            **LLAMA,
        ),
        6_738_415_616,
    ),
    "Llama 3 8B": (
        ModernConfig(
            vocab_size=128256,
            block_size=8192,
            n_layer=32,
            n_head=32,
            n_embd=4096,
            n_kv_head=8,
            ffn_hidden=14336,
            rope_theta=500000.0,
            **LLAMA,
        ),
        8_030_261_248,
    ),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_the_formula_and_the_model_give_the_published_count(name):
    config, published = PUBLISHED[name]
    with torch.device("meta"):
        model = ModernGPT(config)
    assert model.num_params() == modern_param_count(config) == published


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_transformers_counts_the_same(name):
    config, published = PUBLISHED[name]
    settings = {
        k: v
        for k, v in hf_config(config).items()
        if k not in ("model_type", "architectures", "dtype")
    }
    with torch.device("meta"):
        hf = LlamaForCausalLM(LlamaConfig(**settings))
    assert sum(p.numel() for p in hf.parameters()) == published


def test_qwen2_half_billion_counts_the_same_as_transformers():
    """Qwen2-0.5B's shape: bias on q, k and v only, 2 kv heads, tied embeddings."""
    config = ModernConfig(
        vocab_size=151936,
        block_size=32768,
        n_layer=24,
        n_head=14,
        n_embd=896,
        n_kv_head=2,
        ffn_hidden=4864,
        qkv_bias=True,
        rope_theta=1e6,
        **LLAMA | dict(tie_weights=True),
    )
    settings = {
        k: v
        for k, v in hf_config(config).items()
        if k not in ("model_type", "architectures", "dtype")
    }
    with torch.device("meta"):
        ours, theirs = ModernGPT(config), Qwen2ForCausalLM(Qwen2Config(**settings))
    assert (
        ours.num_params()
        == modern_param_count(config)
        == sum(p.numel() for p in theirs.parameters())
        == 494_032_768
    )


OPTIONS = {
    "norm": ["layernorm", "rmsnorm"],
    "position": ["learned", "rope"],
    "ffn": ["gelu", "swiglu"],
    "bias": [True, False],
    "tie_weights": [True, False],
    "n_kv_head": [None, 1],
    "ffn_hidden": [None, 24],
    "qkv_bias": [None, True],
}


def test_chapter_8s_formula_counts_chapter_8s_model():
    for bias, tie_weights in itertools.product([True, False], repeat=2):
        config = GPTConfig(11, 6, 2, 4, 16, bias=bias, tie_weights=tie_weights)
        assert param_count_formula(config) == GPT(config).num_params(), config
    # 12C^2 + 13C per block with biases, as chapter 8 writes it
    config = GPTConfig(11, 6, 1, 4, 16)
    assert (
        param_count_formula(config)
        == 11 * 16 + 6 * 16 + 12 * 16**2 + 13 * 16 + 2 * 16 + 11 * 16
    )


def test_the_modern_count_counts_every_combination():
    for values in itertools.product(*OPTIONS.values()):  # 256 models
        config = ModernConfig(
            vocab_size=11,
            block_size=6,
            n_layer=2,
            n_head=4,
            n_embd=16,
            **dict(zip(OPTIONS, values, strict=True)),
        )
        with torch.device("meta"):
            model = ModernGPT(config)
        assert modern_param_count(config) == model.num_params(), config
