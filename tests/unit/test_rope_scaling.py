"""Chapter 18's RoPE scaling: the speeds of transformers' linear and llama3 kinds, and
the refusals."""

import pytest
import torch
from transformers import LlamaConfig
from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

from gptcore.modern import ModernConfig
from gptcore.rope_scaling import (
    ScaledRopeConfig,
    ScaledRopeGPT,
    ScaledRotaryEmbedding,
    check_rope_scaling,
)

LLAMA3 = dict(
    rope_type="llama3",
    factor=8.0,
    low_freq_factor=1.0,
    high_freq_factor=4.0,
    original_max_position_embeddings=64,
)
SHAPE = dict(vocab_size=30, block_size=16, n_layer=1, n_head=2, n_embd=16)


@pytest.mark.parametrize("scaling", [LLAMA3, dict(rope_type="linear", factor=2.5)])
def test_the_speeds_are_transformers(scaling):
    config = LlamaConfig(
        hidden_size=256,
        num_attention_heads=2,
        max_position_embeddings=512,
        rope_parameters=dict(rope_theta=500000.0, **scaling),
    )
    theirs, _ = ROPE_INIT_FUNCTIONS[scaling["rope_type"]](config, "cpu")
    ours = ScaledRotaryEmbedding(128, 500000.0, scaling).speeds()
    assert torch.equal(ours, theirs)


def test_llama3_keeps_the_fast_pairs_and_slows_the_slow_ones():
    plain = 1.0 / 500000.0 ** (torch.arange(0, 128, 2).float() / 128)
    ours = ScaledRotaryEmbedding(128, 500000.0, LLAMA3).speeds()
    assert ours[0] == plain[0]  # the fastest: untouched
    torch.testing.assert_close(ours[-1], plain[-1] / 8)  # the slowest: by factor


@pytest.mark.parametrize(
    "scaling, words",
    [
        (dict(rope_type="yarn", factor=4.0), "got 'yarn'"),
        (dict(type="dynamic", factor=4.0), "got 'dynamic'"),
        (dict(rope_type="linear"), "needs 'factor'"),
        (dict(rope_type="linear", factor=0.0), "factor must be positive"),
        (dict(LLAMA3, high_freq_factor=None), "must be a number"),
    ],
)
def test_a_scaling_gptcore_does_not_compute_is_named(scaling, words):
    with pytest.raises((ValueError, TypeError), match=words):
        check_rope_scaling(scaling)


def test_the_config_needs_rope_and_a_scaling():
    with pytest.raises(ValueError, match="set position='rope' and rope_scaling"):
        ScaledRopeConfig(**SHAPE, rope_scaling=LLAMA3)
    with pytest.raises(TypeError, match="takes a ScaledRopeConfig"):
        ScaledRopeGPT(ModernConfig(**SHAPE))


def test_every_block_shares_the_scaled_rope():
    config = ScaledRopeConfig(
        **SHAPE | dict(n_layer=2), position="rope", rope_scaling=LLAMA3
    )
    model = ScaledRopeGPT(config)
    rotary = {id(block.attn.rotary) for block in model.blocks}
    assert len(rotary) == 1
    assert isinstance(model.blocks[0].attn.rotary, ScaledRotaryEmbedding)
