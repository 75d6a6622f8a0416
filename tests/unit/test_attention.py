"""Tests for gptcore.head (chapter 2) and gptcore.attention (chapter 3)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gptcore.attention import (
    ListOfHeadsAttention,
    MultiHeadAttention,
    fused_from_heads,
    head_size_for,
)
from gptcore.head import Head

N_EMBD, N_HEAD, BLOCK_SIZE = 64, 8, 16


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def modules(bias: bool = True) -> list[nn.Module]:
    """One of each attention module, seeded; all map (B, T, N_EMBD) inputs with
    T <= BLOCK_SIZE."""
    torch.manual_seed(0)
    return [
        Head(N_EMBD, 8, BLOCK_SIZE, bias=bias),
        ListOfHeadsAttention(N_EMBD, N_HEAD, BLOCK_SIZE, bias=bias),
        MultiHeadAttention(N_EMBD, N_HEAD, BLOCK_SIZE, bias=bias),
    ]


KINDS = pytest.mark.parametrize(
    "kind", [0, 1, 2], ids=["Head", "ListOfHeadsAttention", "MultiHeadAttention"]
)


# ---- shapes and API ---------------------------------------------------------------


@pytest.mark.parametrize("B, T", [(1, 1), (3, 7), (2, BLOCK_SIZE)])
def test_shapes(B, T):
    head, plain, fused = modules()
    x = randn(B, T, N_EMBD)
    assert head(x).shape == (B, T, 8)
    assert head.attention_weights(x).shape == (B, T, T)
    assert plain(x).shape == (B, T, N_EMBD)
    assert fused(x).shape == (B, T, N_EMBD)
    assert fused.attention_weights(x).shape == (B, N_HEAD, T, T)
    assert [t.shape for t in fused.split_heads(x)] == [
        (B, N_HEAD, T, N_EMBD // N_HEAD)
    ] * 3


def test_head_api():
    head = Head(32, 16, 8)
    assert [head.query.in_features, head.query.out_features] == [32, 16]
    assert (
        head.query.bias is None and head.key.bias is None and head.value.bias is None
    )  # bias=False by default
    assert list(head.state_dict()) == [
        "query.weight",
        "key.weight",
        "value.weight",
    ]  # the mask is not saved


def test_multi_head_attention_api():
    attn = MultiHeadAttention(N_EMBD, N_HEAD, BLOCK_SIZE, dropout=0.1)
    assert (
        attn.n_embd,
        attn.n_head,
        attn.head_size,
        attn.block_size,
        attn.dropout,
    ) == (64, 8, 8, 16, 0.1)
    assert attn.qkv.weight.shape == (3 * N_EMBD, N_EMBD) and attn.proj.weight.shape == (
        N_EMBD,
        N_EMBD,
    )
    assert isinstance(attn.resid_drop, nn.Dropout) and attn.resid_drop.p == 0.1
    assert list(attn.state_dict()) == [
        "qkv.weight",
        "qkv.bias",
        "proj.weight",
        "proj.bias",
    ]
    no_bias = MultiHeadAttention(N_EMBD, N_HEAD, BLOCK_SIZE, bias=False)
    assert list(no_bias.state_dict()) == ["qkv.weight", "proj.weight"]


def test_attention_weights_are_causal_distributions():
    head, _, fused = modules()
    x = randn(2, BLOCK_SIZE, N_EMBD)
    future = torch.ones(BLOCK_SIZE, BLOCK_SIZE, dtype=torch.bool).triu(diagonal=1)
    for w in [head.attention_weights(x), fused.attention_weights(x)]:
        assert (w[..., future] == 0).all() and (w >= 0).all()
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))


# ---- causality --------------------------------------------------------------------


@KINDS
def test_causal_changing_a_future_position_leaves_earlier_outputs(kind):
    module = modules()[kind]
    x = randn(2, BLOCK_SIZE, N_EMBD)
    for t in [0, 5, BLOCK_SIZE - 1]:
        changed = x.clone()
        changed[:, t] = randn(2, N_EMBD, seed=t + 1)
        out, out_changed = module(x), module(changed)
        torch.testing.assert_close(out[:, :t], out_changed[:, :t], rtol=0, atol=0)
        assert not torch.allclose(out[:, t], out_changed[:, t])


@KINDS
def test_causal_gradient_of_an_output_is_zero_for_later_inputs(kind):
    module = modules()[kind]
    for t in range(BLOCK_SIZE):
        x = randn(1, BLOCK_SIZE, N_EMBD).requires_grad_(True)
        module(x)[0, t].sum().backward()
        reaches = x.grad[0].abs().sum(-1) > 0
        assert reaches[: t + 1].all() and not reaches[t + 1 :].any(), t


# ---- the forms agree --------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_fused_equals_list_of_heads(bias):
    plain = modules(bias)[1]
    fused = fused_from_heads(plain)
    x = randn(3, BLOCK_SIZE, N_EMBD)
    torch.testing.assert_close(fused(x), plain(x))
    for h, head in enumerate(plain.heads):
        torch.testing.assert_close(
            fused.attention_weights(x)[:, h], head.attention_weights(x)
        )


def test_head_matches_scaled_dot_product_attention():
    head = modules()[0]
    x = randn(2, BLOCK_SIZE, N_EMBD)
    expected = F.scaled_dot_product_attention(
        head.query(x), head.key(x), head.value(x), is_causal=True
    )
    torch.testing.assert_close(head(x), expected)


def test_attention_weights_match_forward():
    attn = modules()[2]
    x = randn(2, BLOCK_SIZE, N_EMBD)
    _, _, v = attn.split_heads(x)
    y = (attn.attention_weights(x) @ v).transpose(1, 2).reshape(x.shape)
    torch.testing.assert_close(attn.proj(y), attn(x))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("T", [1, 5, BLOCK_SIZE])
def test_agrees_with_torch_multihead_attention(bias, T):
    attn = modules(bias)[2]
    reference = nn.MultiheadAttention(N_EMBD, N_HEAD, bias=bias, batch_first=True)
    with torch.no_grad():
        reference.in_proj_weight.copy_(attn.qkv.weight)
        reference.out_proj.weight.copy_(attn.proj.weight)
        if bias:
            reference.in_proj_bias.copy_(attn.qkv.bias)
            reference.out_proj.bias.copy_(attn.proj.bias)
    x = randn(2, T, N_EMBD)
    causal_mask = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
    expected, _ = reference(x, x, x, attn_mask=causal_mask, need_weights=False)
    torch.testing.assert_close(attn(x), expected)


# ---- training ---------------------------------------------------------------------


@KINDS
def test_gradients_reach_every_parameter(kind):
    module = modules()[kind]
    x = randn(2, BLOCK_SIZE, N_EMBD)
    (module(x) ** 2).sum().backward()
    for name, p in module.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    attn = MultiHeadAttention(N_EMBD, N_HEAD, BLOCK_SIZE, dropout=0.5)
    x = randn(2, BLOCK_SIZE, N_EMBD)
    attn.eval()
    torch.testing.assert_close(attn(x), attn(x))
    no_dropout = MultiHeadAttention(N_EMBD, N_HEAD, BLOCK_SIZE)
    no_dropout.load_state_dict(attn.state_dict())
    torch.testing.assert_close(attn(x), no_dropout(x))
    attn.train()
    assert not torch.allclose(attn(x), no_dropout(x))


# ---- errors -----------------------------------------------------------------------


def test_width_not_divisible_by_heads():
    for cls in [ListOfHeadsAttention, MultiHeadAttention]:
        with pytest.raises(
            ValueError,
            match=r"n_embd=64 is not divisible by n_head=7.*\[1, 2, 4, 8, 16, 32, 64\]",
        ):
            cls(64, 7, BLOCK_SIZE)
    assert head_size_for(64, 8) == 8


@pytest.mark.parametrize("args", [(0, 8, 16), (64, 0, 16), (64, 8, 0)])
def test_bad_sizes(args):
    with pytest.raises(ValueError, match="positive integer"):
        MultiHeadAttention(*args)


@pytest.mark.parametrize(
    "args", [(64, 8.0, 16), (64.0, 8, 16), (64, 8, "16"), (64, True, 16)]
)
def test_sizes_of_the_wrong_type(args):
    with pytest.raises(TypeError, match="must be an int"):
        MultiHeadAttention(*args)


def test_bad_dropout():
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadAttention(N_EMBD, N_HEAD, BLOCK_SIZE, dropout=1.0)


@KINDS
def test_wrong_rank(kind):
    module = modules()[kind]
    with pytest.raises(
        ValueError, match=r"expected a \(batch, time, 64\) tensor.*unsqueeze\(0\)"
    ):
        module(randn(BLOCK_SIZE, N_EMBD))
    with pytest.raises(ValueError, match="embed token ids first"):
        module(torch.zeros(1, BLOCK_SIZE, dtype=torch.long))


@KINDS
def test_wrong_width(kind):
    module = modules()[kind]
    with pytest.raises(
        ValueError,
        match=r"expected vectors of width n_embd=64.*"
        r"got shape \(2, 16, 32\).*n_embd=32",
    ):
        module(randn(2, BLOCK_SIZE, 32))


@KINDS
def test_sequence_longer_than_block_size(kind):
    module = modules()[kind]
    with pytest.raises(
        ValueError,
        match=r"sequence length 17 is longer than block_size=16.*x\[:, -16:\]",
    ):
        module(randn(1, BLOCK_SIZE + 1, N_EMBD))


# ---- devices ----------------------------------------------------------------------


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    head, plain, fused = modules()
    x = randn(2, BLOCK_SIZE, N_EMBD)
    for module in [head, plain, fused]:
        expected = module(x)
        got = module.to("cuda")(x.to("cuda")).cpu()
        torch.testing.assert_close(
            got, expected, rtol=1e-3, atol=1e-3
        )  # TF32 and fused kernels round differently
