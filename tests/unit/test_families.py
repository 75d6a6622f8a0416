"""Chapter 18's other named changes: a head size of its own, QK-norm, and attention
within a sliding window, cached by a rolling KV cache."""

import math

import pytest
import torch

from gptcore.experts import MoEConfig
from gptcore.families import (
    FamilyAttention,
    FamilyConfig,
    FamilyGPT,
    FamilyMoEConfig,
    FamilyMoEGPT,
)
from gptcore.generation import KVCache
from gptcore.modern import ModernConfig, ModernGPT, RotaryEmbedding

LLAMA = dict(
    vocab_size=40,
    block_size=32,
    n_layer=2,
    n_head=4,
    n_embd=32,
    n_kv_head=2,
    bias=False,
    norm="rmsnorm",
    position="rope",
    ffn="swiglu",
    ffn_hidden=48,
)


def random_family(**options) -> FamilyGPT:
    torch.manual_seed(0)
    return FamilyGPT(FamilyConfig(**LLAMA, **options)).eval()


def ids(T: int = 32) -> torch.Tensor:
    return torch.randint(40, (2, T), generator=torch.Generator().manual_seed(1))


def test_head_dim_sets_the_heads_width_apart_from_n_embd():
    attn = random_family(head_dim=12).blocks[0].attn
    assert attn.head_size == 12 and attn.rotary.head_size == 12
    assert tuple(attn.qkv.weight.shape) == (4 * 12 + 2 * 2 * 12, 32)
    assert tuple(attn.proj.weight.shape) == (32, 4 * 12)
    x = torch.randn(2, 5, 32)
    q, k, v = attn.split_heads(x)
    assert q.shape == (2, 4, 5, 12) and k.shape == v.shape == (2, 2, 5, 12)
    assert attn(x).shape == x.shape


def test_qk_norm_gives_each_heads_query_and_key_a_root_mean_square_of_one():
    attn = random_family(qk_norm=True, head_dim=12, norm_eps=1e-12).blocks[0].attn
    q, k, _ = attn.split_heads(torch.randn(2, 5, 32))  # the gains start at 1
    for t in (q, k):  # RoPE turns pairs, so it keeps each vector's length
        rms = t.pow(2).mean(-1).sqrt()
        torch.testing.assert_close(rms, torch.ones_like(rms), atol=1e-4, rtol=0)


def test_the_window_is_a_plain_loop_over_each_querys_last_keys():
    attn = random_family(window=4, head_dim=12).blocks[0].attn
    x = torch.randn(1, 10, 32)
    q, k, v = attn.split_heads(x)
    k, v = attn.expand_kv(k), attn.expand_kv(v)
    rows = []
    for t in range(10):  # query t reads keys t-3..t
        seen = slice(max(0, t - 3), t + 1)
        w = (q[:, :, t : t + 1] @ k[:, :, seen].transpose(-2, -1)) / math.sqrt(12)
        rows.append(w.softmax(-1) @ v[:, :, seen])
    torch.testing.assert_close(
        attn.attend(q, *(t[:, ::2] for t in (k, v))), torch.cat(rows, dim=2)
    )


def test_a_window_as_long_as_the_sequence_is_chapter_13s_causal_attention():
    family = random_family(window=32)
    modern = ModernGPT(ModernConfig(**LLAMA)).eval()
    modern.load_state_dict(family.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(family(ids())[0], modern(ids())[0])
        assert (random_family(window=8)(ids())[0] - modern(ids())[0]).abs().max() > 1e-3


@pytest.mark.parametrize("first", [1, 5, 20])
def test_the_rolling_cache_equals_the_uncached_forward_past_the_window(first):
    model = random_family(window=6, qk_norm=True, head_dim=12)
    with torch.no_grad():
        whole, _ = model(ids())
        cache = KVCache(2)
        parts = [model(ids()[:, :first], cache=cache)[0]]
        for t in range(first, 32):
            parts.append(model(ids()[:, t : t + 1], cache=cache)[0])
            assert len(cache) == min(t + 1, 5) and cache.start == t + 1
    torch.testing.assert_close(torch.cat(parts, dim=1), whole)


def test_qwen3_moe_is_experts_and_the_family_attention():
    torch.manual_seed(0)
    config = FamilyMoEConfig(
        **LLAMA, qk_norm=True, head_dim=12, n_experts=4, top_k=2, routing="all"
    )
    model = FamilyMoEGPT(config).eval()
    block = model.blocks[0]
    assert isinstance(block.attn, FamilyAttention) and len(block.ffn.experts) == 4
    assert block.attn.rotary is model.blocks[1].attn.rotary  # one RoPE, shared
    with torch.no_grad():
        whole, _ = model(ids())
        cache = KVCache(2)
        parts = [model(ids()[:, :7], cache=cache)[0]]
        parts += [model(ids()[:, t : t + 1], cache=cache)[0] for t in range(7, 32)]
    torch.testing.assert_close(torch.cat(parts, dim=1), whole)


@pytest.mark.parametrize(
    "options, error, words",
    [
        (dict(head_dim=7), ValueError, "head_dim must be even, got 7"),
        (dict(head_dim=0), ValueError, "head_dim"),
        (dict(window=0), ValueError, "window"),
        (dict(qk_norm="yes"), TypeError, "qk_norm"),
    ],
)
def test_bad_options_are_refused_by_name(options, error, words):
    with pytest.raises(error, match=words):
        FamilyConfig(**LLAMA, **options)


def test_each_model_takes_its_own_config():
    with pytest.raises(TypeError, match="FamilyGPT takes a FamilyConfig"):
        FamilyGPT(ModernConfig(**LLAMA))
    moe = MoEConfig(**LLAMA, n_experts=2, top_k=1)
    with pytest.raises(TypeError, match="FamilyMoEGPT takes a FamilyMoEConfig"):
        FamilyMoEGPT(moe)
    assert isinstance(FamilyAttention(FamilyConfig(**LLAMA), None).rotary, type(None))
    assert RotaryEmbedding(12).head_size == 12


def test_one_block_counts_as_the_whole_model_does_for_alike_blocks():
    config = FamilyMoEConfig(
        **LLAMA | dict(n_layer=3), qk_norm=True, head_dim=12, n_experts=4, top_k=2
    )
    with torch.device("meta"):
        whole = FamilyMoEGPT(config)
        one = FamilyMoEGPT(FamilyMoEConfig(**vars(config) | dict(n_layer=1)))
    per_block = sum(p.numel() for p in one.blocks[0].parameters())
    assert whole.num_params() == one.num_params() + 2 * per_block
