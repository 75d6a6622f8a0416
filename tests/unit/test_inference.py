"""The cost of answering (chapter 19): KV-cache bytes as allocated, quantization within
half a step and saved and loaded, speculative decoding exact and identical when greedy,
and every bad input gets a clear error."""

import copy

import pytest
import torch
import torch.nn.functional as F

from gptcore import GPT, GPTConfig
from gptcore.checkpoint import load_model, model_for, save_checkpoint
from gptcore.data import CharTokenizer
from gptcore.generation import KVCache, generate
from gptcore.inference import (
    KernelLinear,
    QuantizedLinear,
    acceptance_probability,
    cache_tensor_bytes,
    dequantize_weight,
    kv_cache_bytes,
    latent_cache_bytes,
    pack_int4,
    quantize_model,
    quantize_weight,
    residual_distribution,
    speculative_generate,
    unpack_int4,
    use_kernels,
    verify,
)
from gptcore.modern import ModernConfig

SMALL = dict(vocab_size=20, block_size=32, n_layer=2, n_head=4, n_embd=32)


def tiny(seed: int = 0, **changes) -> GPT:
    torch.manual_seed(seed)
    return model_for(GPTConfig(**SMALL | changes)).eval()


def prompt(n: int = 5) -> torch.Tensor:
    return torch.randint(20, (1, n), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("n_kv_head", [4, 2, 1])
def test_kv_bytes_are_what_the_cache_allocates(n_kv_head):
    model = model_for(ModernConfig(**SMALL, n_kv_head=n_kv_head)).eval()
    cache = KVCache(2)
    model(prompt(7), cache=cache)
    assert cache_tensor_bytes(cache) == kv_cache_bytes(2, n_kv_head, 8, 7)


def test_a_window_caps_the_cache_and_the_latent_formula():
    assert kv_cache_bytes(1, 1, 1, 100, 1, window=10) == 20
    assert kv_cache_bytes(1, 1, 1, 5, 1, window=10) == 10
    assert latent_cache_bytes(60, 512, 64, 1) == 69_120
    assert cache_tensor_bytes(KVCache(3)) == 0


@pytest.mark.parametrize("bits, group_size", [(8, None), (8, 8), (4, 8), (4, 32)])
def test_dequantized_weights_are_within_half_a_step(bits, group_size):
    w = torch.randn(16, 32, generator=torch.Generator().manual_seed(0))
    w[3, 5] = 40.0  # an outlier
    q, scale = quantize_weight(w, bits, group_size)
    step = scale.repeat_interleave(group_size or 32, dim=1)
    assert (w - dequantize_weight(q, scale)).abs().le(step * (0.5 + 1e-5)).all()
    assert q.abs().max() <= 2 ** (bits - 1) - 1
    assert q.dtype == torch.int8


def test_int4_packs_two_per_byte_losslessly():
    q = torch.randint(-7, 8, (5, 16), dtype=torch.int8)
    assert pack_int4(q).shape == (5, 8) and pack_int4(q).dtype == torch.uint8
    assert torch.equal(unpack_int4(pack_int4(q)), q)


@pytest.mark.parametrize("bits, group_size", [(8, None), (4, 8)])
def test_a_quantized_model_is_close_and_saves_and_loads(tmp_path, bits, group_size):
    model = tiny()
    quantized = quantize_model(copy.deepcopy(model), bits, group_size)
    assert sum(isinstance(m, QuantizedLinear) for m in quantized.modules()) == 9
    x = prompt(10)
    gap = (quantized(x)[0] - model(x)[0]).abs().max()
    assert gap < (0.05 if bits == 8 else 0.5)
    tokenizer = CharTokenizer("abcdefghijklmnopqrst")
    path = save_checkpoint(tmp_path / "q.pt", quantized, tokenizer)
    assert torch.load(path, weights_only=True)["quantization"] == {
        "bits": bits,
        "group_size": group_size,
    }
    loaded, loaded_tokenizer = load_model(path)
    assert torch.equal(loaded(x)[0], quantized(x)[0])
    assert loaded_tokenizer.to_dict() == tokenizer.to_dict()
    with pytest.raises(ValueError, match="already quantized"):
        quantize_model(loaded)  # what `gptcore sample --quantize` would do to it
    float_file = save_checkpoint(tmp_path / "f.pt", model, tokenizer)
    assert "quantization" not in torch.load(float_file, weights_only=True)


def test_quantization_refuses_bad_input():
    model = tiny()
    with pytest.raises(ValueError, match="does not divide the width 32"):
        quantize_model(copy.deepcopy(model), 4, group_size=12)
    with pytest.raises(ValueError, match="must be even"):
        quantize_weight(torch.randn(2, 9), 4, group_size=3)
    with pytest.raises(ValueError, match="bits must be 8 or 4"):
        quantize_weight(torch.randn(2, 8), 2)
    with pytest.raises(ValueError, match="positive integer"):
        quantize_weight(torch.randn(2, 8), 8, group_size=0)
    quantized = quantize_model(copy.deepcopy(model))
    with pytest.raises(ValueError, match="already quantized"):
        quantize_model(quantized)


@pytest.mark.parametrize("bits, group_size", [(8, None), (4, 32)])
def test_the_fused_kernels_compute_what_quantized_linear_computes(bits, group_size):
    quantized = quantize_model(tiny(), bits, group_size)
    x = prompt(10)
    exact = quantized(x)[0]
    fused = use_kernels(copy.deepcopy(quantized))
    kinds = [type(m) for m in fused.modules() if hasattr(m, "qweight")]
    head = KernelLinear if bits == 8 else QuantizedLinear  # int4: 20 outputs, not 16k
    assert kinds == [KernelLinear] * 8 + [head]
    gap = (fused(x)[0] - exact).norm() / exact.norm()
    assert gap < 0.01  # bfloat16 activations


def test_the_fused_kernels_refuse_what_they_cannot_take():
    with pytest.raises(ValueError, match="not quantized"):
        use_kernels(tiny())
    small_groups = quantize_model(tiny(), 4, group_size=8)
    with pytest.raises(ValueError, match="do not take"):
        KernelLinear(small_groups.lm_head)
    use_kernels(small_groups)  # groups of 8: every layer stays as it was
    assert not any(isinstance(m, KernelLinear) for m in small_groups.modules())


def test_the_acceptance_rule_gives_the_target_distribution_exactly():
    g = torch.Generator().manual_seed(0)
    for _ in range(50):
        p = F.softmax(2 * torch.randn(5, generator=g, dtype=torch.float64), dim=0)
        q = F.softmax(2 * torch.randn(5, generator=g, dtype=torch.float64), dim=0)
        q[0] = 0.0  # a token the draft never proposes
        q = q / q.sum()
        keep = acceptance_probability(p, q)
        out = q * keep + (1 - (q * keep).sum()) * residual_distribution(p, q)
        torch.testing.assert_close(out, p, rtol=0, atol=1e-12)
    p = torch.tensor([0.2, 0.8])
    assert torch.equal(residual_distribution(p, p), p)


def test_verify_keeps_every_proposal_the_target_agrees_with():
    p = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    q = p[:2].clone()
    assert verify(p, q, torch.tensor([1, 2])) == [1, 2, 0]
    q[0] = torch.tensor([1.0, 0.0, 0.0])  # the draft is sure of token 0; the target not
    assert verify(p, q, torch.tensor([0, 2])) == [1]  # rejected: the target's token


@pytest.mark.parametrize("k", [1, 2, 5])
def test_greedy_speculative_decoding_is_the_target_alone(k):
    target, draft = tiny(0, n_layer=3), tiny(1, n_layer=1)
    alone = generate(target, prompt(), 20, temperature=0)
    fast, stats = speculative_generate(target, draft, prompt(), 20, k=k, temperature=0)
    assert torch.equal(fast, alone)
    assert stats["accepted"] <= stats["proposed"]
    assert stats["target_passes"] + stats["accepted"] == 20


def test_the_stop_token_ends_the_text_where_the_target_alone_has_it():
    target, draft = tiny(0, n_layer=3), tiny(1, n_layer=1)
    alone = generate(target, prompt(), 20, temperature=0)[0, 5:].tolist()
    stop = alone[7]
    line = alone[: alone.index(stop) + 1]
    for k in (1, 3):
        fast, _ = speculative_generate(
            target, draft, prompt(), 20, k=k, temperature=0, stop=stop
        )
        assert fast[0, 5:].tolist() == line


def test_a_draft_equal_to_the_target_is_always_accepted():
    target = tiny()
    g = torch.Generator().manual_seed(0)
    out, stats = speculative_generate(target, target, prompt(), 20, k=3, generator=g)
    assert out.shape == (1, 25)
    assert stats["accepted"] == stats["proposed"]


def test_speculative_decoding_refuses_bad_input():
    target = tiny()
    with pytest.raises(ValueError, match="k must be a positive integer"):
        speculative_generate(target, tiny(1), prompt(), 5, k=0)
    with pytest.raises(ValueError, match="vocabulary"):
        speculative_generate(target, tiny(1, vocab_size=30), prompt(), 5)
    with pytest.raises(ValueError, match="context"):
        speculative_generate(target, tiny(1), prompt(), 40)
    with pytest.raises(ValueError, match="temperature"):
        speculative_generate(target, tiny(1), prompt(), 5, temperature=-1.0)
    with pytest.raises(ValueError, match="one sequence"):
        speculative_generate(target, tiny(1), prompt().repeat(2, 1), 5)
