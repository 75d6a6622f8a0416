"""Item 3: the KV cache of the rotary (RoPE) model, and what a rolling cache computes.

generate(use_cache=True) rebuilds the cache from the window when it is full, for every
model: so its tokens are the tokens of generation without a cache. A rolling cache (drop
the oldest position, keep the rest) is possible only with RoPE, and these tests pin down
exactly what it equals: the cropped window for a one-layer model, but in general the
model with sliding-window attention over the whole text, not the model on the window.
"""

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from gptcore.generation import KVCache, generate
from gptcore.model import GPT, GPTConfig
from gptcore.modern import ModernConfig, ModernGPT, RotaryEmbedding

LLAMA_STYLE = dict(
    norm="rmsnorm", position="rope", ffn="swiglu", bias=False, n_kv_head=2
)
W = 8  # block_size: the window


def tiny(n_layer: int = 2, seed: int = 0, rotary: bool = True) -> GPT:
    """A small random rotary GPT (or chapter 8's, rotary=False), weights spread wide
    so next tokens are no toss-up."""
    torch.manual_seed(seed)
    shape = dict(vocab_size=13, block_size=W, n_layer=n_layer, n_head=4, n_embd=16)
    if rotary:
        model = ModernGPT(ModernConfig(**shape, **LLAMA_STYLE))
    else:
        model = GPT(GPTConfig(**shape))
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.3)
    return model.eval()


def prompt(T: int = 5, seed: int = 1) -> torch.Tensor:
    return torch.randint(13, (3, T), generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def greedy_recompute(model: GPT, idx: torch.Tensor, n: int):
    """The reference: the whole (cropped) window through the model, every step."""
    steps = []
    for _ in range(n):
        logits = model(idx[:, -W:])[0][:, -1]
        steps.append(logits)
        idx = torch.cat([idx, logits.argmax(-1, keepdim=True)], dim=1)
    return idx, torch.stack(steps, dim=1)


@torch.no_grad()
def greedy_rolling(model: GPT, idx: torch.Tensor, n: int):
    """A rolling cache: when full, forget the oldest position; never rebuild."""
    cache = KVCache(len(model.blocks))
    logits = model(idx[:, -W:], cache=cache)[0][:, -1]
    steps = []
    for _ in range(n):
        steps.append(logits)
        idx = torch.cat([idx, logits.argmax(-1, keepdim=True)], dim=1)
        if len(cache) == W:
            cache.drop_oldest()
        logits = model(idx[:, -1:], cache=cache)[0][:, -1]
    return idx, torch.stack(steps, dim=1)


@torch.no_grad()
def sliding_window_logits(model: GPT, idx: torch.Tensor) -> torch.Tensor:
    """The model on all of idx, each position attending to itself and W - 1 before."""
    N = idx.size(1)
    wide = ModernGPT(replace(model.config, block_size=N)).eval()
    wide.load_state_dict(
        model.state_dict()
    )  # with RoPE no tensor depends on block_size
    i = torch.arange(N)
    band = (i[:, None] >= i[None, :]) & (i[:, None] - i[None, :] < W)
    x = wide.embed(idx)
    for block in wide.blocks:
        attn = block.attn
        q, k, v = attn.split_heads(block.ln1(x))
        y = F.scaled_dot_product_attention(
            q, attn.expand_kv(k), attn.expand_kv(v), attn_mask=band
        )
        x = x + attn.proj(y.transpose(1, 2).reshape(x.shape))
        x = x + block.ffn(block.ln2(x))
    return wide.lm_head(wide.ln_f(x))


# --- within the context, and generate: the cache changes nothing -------------------


def test_the_cached_forward_matches_the_model_position_by_position():
    model, idx = tiny(), prompt(T=W)
    with torch.no_grad():
        expected = model(idx)[0]
        cache = KVCache(len(model.blocks))
        pieces = [model(idx[:, :3], cache=cache)[0]]
        pieces += [model(idx[:, t : t + 1], cache=cache)[0] for t in range(3, W)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), expected, rtol=1e-5, atol=1e-5)
    assert cache.layers[0].keys.shape == (
        3,
        2,
        W,
        4,
    )  # GQA: the cache holds 2 kv heads, not 4
    with pytest.raises(ValueError, match="block_size"):
        model(idx[:, :1], cache=cache)


@pytest.mark.parametrize("prompt_len", [1, 5, 8, 13])
def test_generate_with_cache_equals_without(prompt_len):
    model, idx = tiny(seed=2), prompt(T=prompt_len, seed=prompt_len)
    no_cache = generate(
        model, idx, 30, temperature=0.0
    )  # 30 new tokens: the window slides
    assert torch.equal(
        generate(model, idx, 30, temperature=0.0, use_cache=True), no_cache
    )
    a = generate(model, idx, 30, generator=torch.Generator().manual_seed(5))
    b = generate(
        model, idx, 30, generator=torch.Generator().manual_seed(5), use_cache=True
    )
    assert torch.equal(a, b)


def test_greedy_logits_of_the_cache_are_the_models_within_the_context():
    model, idx = tiny(), prompt(T=2)
    tokens, expected = greedy_recompute(model, idx, W - 2)  # ends exactly at block_size
    rolled, cached = greedy_rolling(
        model, idx, W - 2
    )  # never full: nothing dropped yet
    assert torch.equal(rolled, tokens)
    torch.testing.assert_close(cached, expected, rtol=1e-5, atol=1e-5)


# --- why RoPE could roll: attention depends only on the offset ----------------------


def test_rope_scores_depend_only_on_the_offset():
    rope = RotaryEmbedding(head_size=8, theta=10000.0)
    g = torch.Generator().manual_seed(0)
    q, k = torch.randn(1, 1, 6, 8, generator=g), torch.randn(1, 1, 6, 8, generator=g)
    scores = rope(q) @ rope(k).transpose(-2, -1)
    for shift in (1, 100, 1000):
        shifted = rope(q, shift) @ rope(k, shift).transpose(-2, -1)
        torch.testing.assert_close(shifted, scores, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(
        q @ k.transpose(-2, -1), scores, atol=1e-2
    )  # it does turn


def test_a_window_at_later_positions_gives_the_same_logits():
    model, idx = tiny(), prompt(T=W)
    with torch.no_grad():
        expected = model(idx)[0]
        for start in (1, 37, 500):
            cache = KVCache(len(model.blocks))
            for layer in cache.layers:  # as if `start` positions had rolled out before
                layer.dropped = start
            got = model(idx, cache=cache)[0]
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


# --- the rolling cache: what it is, and is not, equal to ----------------------------


def test_rolling_equals_recomputing_the_window_with_one_layer():
    """One layer: a key depends on its own token and position only: nothing is stale."""
    model, idx = tiny(n_layer=1), prompt(T=W)
    tokens, expected = greedy_recompute(model, idx, 40)
    rolled, got = greedy_rolling(model, idx, 40)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)
    assert torch.equal(rolled, tokens)


def test_rolling_is_not_recomputing_the_window_with_two_layers():
    """Deeper keys came from hidden states that saw tokens the window has dropped."""
    model, idx = tiny(), prompt(T=W)
    _, expected = greedy_recompute(model, idx, 2)
    _, got = greedy_rolling(model, idx, 2)
    torch.testing.assert_close(
        got[:, 0], expected[:, 0], rtol=1e-5, atol=1e-5
    )  # full, equal
    assert (
        got[:, 1] - expected[:, 1]
    ).abs().max() > 1e-2  # after the first slide: not equal


def test_rolling_is_sliding_window_attention_over_the_whole_text():
    """What a rolling cache does compute: each layer attends to the last W positions."""
    model, idx = tiny(), prompt(T=W)
    rolled, got = greedy_rolling(model, idx, 40)
    reference = sliding_window_logits(model, rolled)[:, W - 1 : -1]
    torch.testing.assert_close(got, reference, rtol=1e-4, atol=1e-4)


def test_a_learned_position_table_cannot_roll():
    model = tiny(rotary=False)
    cache = KVCache(len(model.blocks))
    with torch.no_grad():
        model(prompt(T=W), cache=cache)
        cache.drop_oldest()
        with pytest.raises(ValueError, match="longer than block_size"):
            model(prompt(T=1), cache=cache)


def test_several_new_tokens_after_cached_ones_with_rope_and_grouped_heads():
    model, idx = tiny(), prompt(T=W)
    with torch.no_grad():
        expected = model(idx)[0]
        cache = KVCache(len(model.blocks))
        got = torch.cat(
            [model(idx[:, :3], cache=cache)[0], model(idx[:, 3:], cache=cache)[0]], 1
        )
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
