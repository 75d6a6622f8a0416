"""Chapter 13's gptcore.modern: today's parts, visible changes to chapter 8's GPT."""

import pytest
import torch

from gptcore.attention import MultiHeadAttention
from gptcore.feedforward import FeedForward
from gptcore.layer_norm import LayerNorm
from gptcore.model import GPT, GPTConfig
from gptcore.modern import (
    GroupedQueryAttention,
    ModernConfig,
    ModernGPT,
    RMSNorm,
    RotaryEmbedding,
    SwiGLU,
    TokenEmbeddings,
)

SHAPE = dict(vocab_size=13, block_size=8, n_layer=2, n_head=4, n_embd=16)
LLAMA = dict(norm="rmsnorm", position="rope", ffn="swiglu", bias=False, n_kv_head=2)


def test_with_every_default_the_modern_gpt_is_chapter_8s():
    torch.manual_seed(0)
    plain = GPT(GPTConfig(**SHAPE))
    modern = ModernGPT(ModernConfig(**SHAPE))
    assert list(plain.state_dict()) == list(modern.state_dict())
    modern.load_state_dict(plain.state_dict())
    assert type(modern.blocks[0].attn) is MultiHeadAttention
    assert type(modern.blocks[0].ffn) is FeedForward
    assert type(modern.blocks[0].ln1) is LayerNorm
    idx = torch.randint(13, (2, 8), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(modern(idx)[0], plain(idx)[0], rtol=0, atol=0)


def test_each_option_swaps_exactly_its_part():
    model = ModernGPT(ModernConfig(**SHAPE, **LLAMA))
    block = model.blocks[0]
    assert isinstance(model.embed, TokenEmbeddings)
    assert isinstance(block.ln1, RMSNorm) and isinstance(model.ln_f, RMSNorm)
    assert isinstance(block.attn, GroupedQueryAttention)
    assert isinstance(block.attn.rotary, RotaryEmbedding)
    assert isinstance(block.ffn, SwiGLU)
    assert block.attn.rotary is model.blocks[1].attn.rotary  # one, shared
    names = set(model.state_dict())
    assert {
        "embed.token.weight",
        "blocks.0.attn.qkv.weight",
        "blocks.0.ffn.fc.weight",
    } <= names
    assert "embed.position.weight" not in names
    only_ffn = ModernGPT(ModernConfig(**SHAPE, ffn="swiglu")).blocks[0]
    assert type(only_ffn.attn) is MultiHeadAttention and type(only_ffn.ln1) is LayerNorm


def test_a_tied_modern_head_shares_the_new_token_table():
    model = ModernGPT(ModernConfig(**SHAPE, **LLAMA, tie_weights=True))
    assert model.lm_head.weight is model.embed.token.weight


@pytest.mark.parametrize(
    "options, error, match",
    [
        (dict(n_kv_head=3), ValueError, "n_kv_head=3 must divide n_head=4"),
        (dict(norm="batchnorm"), ValueError, "norm"),
        (dict(rope_theta="big"), TypeError, "must be a number"),
        (dict(norm_eps=0.0), ValueError, "must be positive"),
        (dict(position="rope", n_embd=20, n_head=4), ValueError, "must be even"),
        (dict(qkv_bias=1), TypeError, "qkv_bias"),
    ],
)
def test_modern_config_refuses_impossible_options(options, error, match):
    with pytest.raises(error, match=match):
        ModernConfig(**SHAPE | options)


def test_modern_gpt_takes_a_modern_config():
    with pytest.raises(TypeError, match="ModernGPT takes a ModernConfig"):
        ModernGPT(GPTConfig(**SHAPE))


def test_grouped_query_attention_with_one_group_per_head_is_chapter_3s():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4, 8)
    gqa = GroupedQueryAttention(16, 4, 8, n_kv_head=4)
    gqa.load_state_dict(mha.state_dict())
    x = torch.randn(2, 8, 16, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(gqa(x), mha(x), rtol=0, atol=0)


def test_swiglu_is_silu_gate_times_up():
    ffn = SwiGLU(16, bias=False, hidden=24)
    x = torch.randn(3, 16, generator=torch.Generator().manual_seed(3))
    gate, up = ffn.fc.weight.chunk(2)
    expected = (torch.nn.functional.silu(x @ gate.T) * (x @ up.T)) @ ffn.proj.weight.T
    torch.testing.assert_close(ffn(x), expected)
