"""Tests for gptcore.generation: sampling, greedy decoding, the KV cache and the clear
errors."""

import pytest
import torch

from gptcore.data import CharTokenizer
from gptcore.generation import (
    KVCache,
    generate,
    generate_text,
    sample_next,
)
from gptcore.model import GPT, GPTConfig

TEXT = "to be, or not to be: that is the question.\n"


def tiny_gpt(seed: int = 0, block_size: int = 8, vocab_size: int = 13) -> GPT:
    """A small random GPT whose weights are spread wide enough that its next-token
    distributions are not flat."""
    torch.manual_seed(seed)
    model = GPT(
        GPTConfig(
            vocab_size=vocab_size, block_size=block_size, n_layer=2, n_head=2, n_embd=16
        )
    )
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.3)
    return model.eval()


def prompt_ids(
    B: int = 3, T: int = 5, vocab_size: int = 13, seed: int = 1
) -> torch.Tensor:
    return torch.randint(
        vocab_size, (B, T), generator=torch.Generator().manual_seed(seed)
    )


def greedy_by_hand(model: GPT, idx: torch.Tensor, n: int) -> torch.Tensor:
    """The reference: argmax of the last position's logits, window cropped to
    block_size."""
    with torch.no_grad():
        for _ in range(n):
            logits, _ = model(idx[:, -model.config.block_size :])
            idx = torch.cat([idx, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    return idx


def test_output_shape_and_prompt_kept():
    model, idx = tiny_gpt(), prompt_ids()
    out = generate(model, idx, 6, generator=torch.Generator().manual_seed(0))
    assert out.shape == (3, 11) and out.dtype == torch.long
    assert torch.equal(out[:, :5], idx)
    assert int(out.min()) >= 0 and int(out.max()) < 13


def test_zero_new_tokens_returns_the_prompt():
    model, idx = tiny_gpt(), prompt_ids()
    assert torch.equal(generate(model, idx, 0), idx)
    assert torch.equal(generate(model, idx, 0, use_cache=True), idx)


def test_temperature_zero_is_argmax():
    model, idx = tiny_gpt(), prompt_ids()
    expected = greedy_by_hand(
        model, idx, 20
    )  # 25 > block_size 8: the window slides too
    assert torch.equal(generate(model, idx, 20, temperature=0.0), expected)


def test_top_k_one_is_greedy():
    model, idx = tiny_gpt(), prompt_ids()
    greedy = generate(model, idx, 20, temperature=0.0)
    sampled = generate(
        model,
        idx,
        20,
        temperature=1.5,
        top_k=1,
        generator=torch.Generator().manual_seed(3),
    )
    assert torch.equal(sampled, greedy)


@pytest.mark.parametrize("use_cache", [False, True])
def test_seeded_generator_is_deterministic(use_cache):
    model, idx = tiny_gpt(), prompt_ids()
    a = generate(
        model, idx, 30, generator=torch.Generator().manual_seed(7), use_cache=use_cache
    )
    b = generate(
        model, idx, 30, generator=torch.Generator().manual_seed(7), use_cache=use_cache
    )
    c = generate(
        model, idx, 30, generator=torch.Generator().manual_seed(8), use_cache=use_cache
    )
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_cache_and_no_cache_sample_the_same_tokens():
    model, idx = tiny_gpt(), prompt_ids()
    a = generate(model, idx, 30, generator=torch.Generator().manual_seed(5))
    b = generate(
        model, idx, 30, generator=torch.Generator().manual_seed(5), use_cache=True
    )
    assert torch.equal(a, b)


@pytest.mark.parametrize("prompt_len", [1, 5, 8, 13])
def test_kv_cache_greedy_equals_no_cache_beyond_block_size(prompt_len):
    model = tiny_gpt(seed=2)
    idx = prompt_ids(T=prompt_len, seed=prompt_len)
    no_cache = generate(model, idx, 30, temperature=0.0)  # 30 new tokens, block_size 8
    with_cache = generate(model, idx, 30, temperature=0.0, use_cache=True)
    assert no_cache.shape == (3, prompt_len + 30)
    assert torch.equal(with_cache, no_cache)


def cached(model: GPT, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """The logits of idx's tokens after the cached ones: the model's own forward."""
    with torch.no_grad():
        return model(idx, cache=cache)[0]


def test_the_cached_forward_matches_the_model_position_by_position():
    model, idx = tiny_gpt(), prompt_ids(T=8)
    expected, _ = model(idx)
    cache = KVCache(len(model.blocks))
    pieces = [cached(model, idx[:, :3], cache)] + [
        cached(model, idx[:, t : t + 1], cache) for t in range(3, 8)
    ]
    assert len(cache) == 8
    torch.testing.assert_close(torch.cat(pieces, dim=1), expected, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="block_size"):
        cached(model, idx[:, :1], cache)  # full: a ninth position does not exist


def test_generation_longer_than_block_size_slides_the_window():
    model = tiny_gpt()
    long_prompt = prompt_ids(T=20)
    for use_cache in (False, True):
        out = generate(model, long_prompt, 25, temperature=0.0, use_cache=use_cache)
        assert out.shape == (3, 45)
        # only the last block_size tokens can matter: the cropped prompt continues
        # identically
        cropped = generate(
            model, long_prompt[:, -8:], 25, temperature=0.0, use_cache=use_cache
        )
        assert torch.equal(out[:, 20:], cropped[:, 8:])


def test_sample_next_top_k_never_picks_outside_the_top_k():
    logits = torch.randn(4, 13, generator=torch.Generator().manual_seed(0))
    top3 = logits.topk(3, dim=-1).indices
    g = torch.Generator().manual_seed(0)
    picks = torch.cat(
        [sample_next(logits, 2.0, top_k=3, generator=g) for _ in range(200)], dim=1
    )
    assert all(set(picks[b].tolist()) <= set(top3[b].tolist()) for b in range(4))
    assert all(
        len(set(picks[b].tolist())) == 3 for b in range(4)
    )  # and all three do get picked


def test_generate_restores_training_mode_and_builds_no_graph():
    model, idx = tiny_gpt().train(), prompt_ids()
    out = generate(model, idx, 3, generator=torch.Generator().manual_seed(0))
    assert model.training and not out.requires_grad


def test_generate_text_continues_the_prompt_and_seed_reproduces():
    tok = CharTokenizer.from_text(TEXT)
    model = tiny_gpt(vocab_size=tok.vocab_size)
    a = generate_text(model, tok, "to be", 12, seed=0)
    assert a.startswith("to be") and len(a) == 17 and set(a) <= set(tok.vocab)
    assert a == generate_text(model, tok, "to be", 12, seed=0)
    assert a == generate_text(model, tok, "to be", 12, seed=0, use_cache=False)
    greedy = generate_text(model, tok, "to be", 12, temperature=0.0)
    assert greedy == tok.decode(
        greedy_by_hand(model, torch.tensor([tok.encode("to be")]), 12)[0]
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(prompt=""), "prompt is empty"),
        (dict(temperature=-0.5), "temperature must be >= 0"),
        (dict(temperature=float("nan")), "temperature must be >= 0"),
        (dict(top_k=0), "top_k must be between 1 and the vocabulary size"),
        (dict(top_k=100), "top_k must be between 1 and the vocabulary size"),
        (dict(max_new_tokens=-1), "max_new_tokens must be >= 0"),
    ],
)
def test_generate_text_clear_errors(kwargs, message):
    tok = CharTokenizer.from_text(TEXT)
    model = tiny_gpt(vocab_size=tok.vocab_size)
    args = dict(prompt="to be", max_new_tokens=5) | kwargs
    with pytest.raises(ValueError, match=message):
        generate_text(model, tok, **args)


def test_generate_text_names_characters_outside_the_vocabulary():
    tok = CharTokenizer.from_text(TEXT)
    model = tiny_gpt(vocab_size=tok.vocab_size)
    with pytest.raises(
        ValueError
    ) as err:  # the tokenizer's error, which names the characters
        generate_text(model, tok, "to BE", 5)
    assert "'B'" in str(err.value) and "'E'" in str(err.value)


def test_generate_clear_errors():
    model, idx = tiny_gpt(), prompt_ids()
    with pytest.raises(ValueError, match="non-empty"):
        generate(model, idx[:, :0], 3)
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 13\)"):
        generate(model, idx + 13, 3)
    with pytest.raises(ValueError, match="top_k"):
        generate(model, idx, 3, top_k=14)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, idx, 3, temperature=-1)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, idx, -2)


@pytest.mark.parametrize("temperature", [float("inf"), 1e-40, 1e-45, 5e-324])
def test_sample_next_refuses_temperatures_it_cannot_divide_by(temperature):
    logits = torch.randn(2, 13, generator=torch.Generator().manual_seed(0))
    message = "finite" if temperature > 1 else "too small.*0 means greedy"
    with pytest.raises(ValueError, match=message):
        sample_next(logits, temperature)
    with pytest.raises(ValueError, match=message):
        generate(tiny_gpt(), prompt_ids(), 3, temperature=temperature)


def test_the_smallest_temperature_allowed_still_samples():
    logits = torch.randn(2, 13, generator=torch.Generator().manual_seed(0))
    for temperature in (1e-6, 1e-5):  # greedy in effect
        assert torch.equal(
            sample_next(logits, temperature), logits.argmax(-1, keepdim=True)
        )


def test_several_new_tokens_after_cached_ones_see_the_shifted_causal_mask():
    """Attention with a cache, third case: T new queries after S - T cached keys."""
    model, idx = tiny_gpt(), prompt_ids(T=8)
    expected, _ = model(idx)
    cache = KVCache(len(model.blocks))
    pieces = [cached(model, idx[:, :3], cache), cached(model, idx[:, 3:], cache)]
    torch.testing.assert_close(torch.cat(pieces, dim=1), expected, rtol=1e-4, atol=1e-4)
    assert len(cache) == cache.start == 8 and len(cache.layers) == 2


def test_the_cache_passes_through_each_block_and_attention():
    """One forward path: model(idx, cache=cache) extends every block's LayerCache."""
    model, idx = tiny_gpt(), prompt_ids(T=5)
    cache = KVCache(len(model.blocks))
    cached(model, idx, cache)
    for layer in cache.layers:
        assert layer.keys.shape == layer.values.shape == (3, 2, 5, 8)
    cache.drop_oldest(2)
    assert (len(cache), cache.start) == (3, 5)  # positions 2..4 kept, the next is 5
