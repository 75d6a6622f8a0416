"""Tests for chapters 4-6: FeedForward (gptcore.feedforward), PlainBlock
(gptcore.plain_block), ResidualBlock (gptcore.residual_block), LayerNorm
(gptcore.layer_norm) and Block (gptcore.block)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gptcore.attention import MultiHeadAttention
from gptcore.block import Block
from gptcore.feedforward import FeedForward
from gptcore.layer_norm import LayerNorm
from gptcore.plain_block import PlainBlock
from gptcore.residual_block import ResidualBlock

C, H, T = 32, 4, 8
BLOCKS = [PlainBlock, ResidualBlock, Block]


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def randomize_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter random values; layer-norm gains stay near 1 (so they are
    exercised too)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g))
            if p.dim() == 1 and name.endswith("weight"):  # a layer norm's gain
                p.add_(1.0)
    return module


def silence_(module: nn.Module) -> nn.Module:
    """Zero the output projection of every attention and feed-forward layer, so each
    outputs exactly 0."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (MultiHeadAttention, FeedForward)):
                m.proj.weight.zero_()
                if m.proj.bias is not None:
                    m.proj.bias.zero_()
    return module


def dependency_map(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(T, T) booleans: [t, s] is True when output position t depends on input
    position s (sequence 0)."""
    n = x.size(1)
    depends = torch.zeros(n, n, dtype=torch.bool)
    for t in range(n):
        xg = x.clone().requires_grad_(True)
        module(xg)[0, t].sum().backward()
        depends[t] = xg.grad[0].abs().sum(dim=-1) > 0
    return depends


# ---------------------------------------------------------------- FeedForward


def test_feedforward_layout_and_parameter_count():
    ffn = FeedForward(C)
    assert (ffn.fc.in_features, ffn.fc.out_features) == (C, 4 * C)
    assert (ffn.proj.in_features, ffn.proj.out_features) == (4 * C, C)
    assert isinstance(ffn.act, nn.GELU) and ffn.act.approximate == "tanh"
    assert isinstance(ffn.drop, nn.Dropout)
    assert list(ffn.state_dict()) == [
        "fc.weight",
        "fc.bias",
        "proj.weight",
        "proj.bias",
    ]
    assert sum(p.numel() for p in ffn.parameters()) == 8 * C * C + 5 * C


@pytest.mark.parametrize("shape", [(C,), (T, C), (2, T, C), (2, 3, T, C)])
def test_feedforward_keeps_any_leading_shape(shape):
    assert FeedForward(C)(randn(*shape)).shape == shape


def test_feedforward_matches_formula_with_tanh_gelu():
    ffn = randomize_(FeedForward(C))
    x = randn(2, T, C)
    hidden = x @ ffn.fc.weight.T + ffn.fc.bias
    hidden = (
        0.5
        * hidden
        * (1 + torch.tanh((2 / torch.pi) ** 0.5 * (hidden + 0.044715 * hidden**3)))
    )
    torch.testing.assert_close(ffn(x), hidden @ ffn.proj.weight.T + ffn.proj.bias)


def test_feedforward_is_per_token():
    ffn = FeedForward(C)
    x = randn(3, T, C)
    looped = torch.stack([ffn(x[:, t]) for t in range(T)], dim=1)
    torch.testing.assert_close(ffn(x), looped)
    assert torch.equal(dependency_map(ffn, x), torch.eye(T, dtype=torch.bool))


def test_feedforward_dropout_only_in_training():
    ffn = FeedForward(C, dropout=0.5)
    reference = FeedForward(C)
    reference.load_state_dict(ffn.state_dict())
    x = randn(4, T, C)
    ffn.eval()
    torch.testing.assert_close(ffn(x), reference(x))
    ffn.train()
    zeroed = (ffn(x) == 0).float().mean().item()
    assert 0.35 < zeroed < 0.65


def test_feedforward_bad_input_and_arguments():
    ffn = FeedForward(C)
    with pytest.raises(ValueError, match="width n_embd=32"):
        ffn(randn(2, T, C + 1))
    with pytest.raises(ValueError):
        ffn(torch.tensor(1.0))
    for bad in (0, -4):
        with pytest.raises(ValueError, match="n_embd"):
            FeedForward(bad)
    with pytest.raises(TypeError, match="n_embd must be an int"):
        FeedForward(2.5)
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="dropout"):
            FeedForward(C, dropout=bad)


# ---------------------------------------------------- blocks: shapes, wiring, causality


@pytest.mark.parametrize("block_type", BLOCKS)
@pytest.mark.parametrize("bias", [True, False])
def test_block_shapes_stack(block_type, bias):
    x = randn(2, T, C)
    stack = nn.Sequential(*[block_type(C, H, T, bias=bias) for _ in range(3)])
    assert stack(x).shape == x.shape
    assert block_type(C, H, T)(x[:, :3]).shape == (
        2,
        3,
        C,
    )  # shorter sequences are fine


@pytest.mark.parametrize("block_type", BLOCKS)
def test_block_is_causal(block_type):
    block = randomize_(block_type(C, H, T))
    assert torch.equal(
        dependency_map(block, randn(1, T, C)), torch.ones(T, T, dtype=torch.bool).tril()
    )


@pytest.mark.parametrize("block_type", BLOCKS)
def test_block_sequences_in_a_batch_are_independent(block_type):
    block = randomize_(block_type(C, H, T))
    x = randn(3, T, C)
    torch.testing.assert_close(block(x[1:2]), block(x)[1:2])
    torch.testing.assert_close(block(x[:, :5]), block(x)[:, :5])


@pytest.mark.parametrize("block_type", BLOCKS)
def test_block_bias_false_has_no_biases(block_type):
    block = block_type(C, H, T, bias=False)
    assert not [name for name, _ in block.named_parameters() if name.endswith("bias")]
    with_bias = block_type(C, H, T)
    assert len(list(with_bias.parameters())) > len(list(block.parameters()))


@pytest.mark.parametrize("block_type", BLOCKS)
def test_block_rejects_wrong_width(block_type):
    with pytest.raises(ValueError):
        block_type(C, H, T)(randn(2, T, C + 4))


def test_block_attribute_names_and_dropout_passed_on():
    plain, res, block = (
        PlainBlock(C, H, T, dropout=0.1),
        ResidualBlock(C, H, T, dropout=0.1),
        Block(C, H, T, dropout=0.1),
    )
    assert list(plain.state_dict()) == list(res.state_dict())
    assert {k.split(".")[0] for k in block.state_dict()} == {
        "ln1",
        "attn",
        "ln2",
        "ffn",
    }
    for b in (plain, res, block):
        assert b.attn.dropout == 0.1 and b.ffn.drop.p == 0.1


def test_plain_block_is_ffn_after_attention():
    block = randomize_(PlainBlock(C, H, T))
    x = randn(2, T, C)
    torch.testing.assert_close(block(x), block.ffn(block.attn(x)))


# ---------------------------------------------------------------- residual connections


def test_residual_block_formula_with_plain_block_weights():
    plain = randomize_(PlainBlock(C, H, T))
    res = ResidualBlock(C, H, T)
    res.load_state_dict(plain.state_dict())
    x = randn(2, T, C)
    h = x + plain.attn(x)
    torch.testing.assert_close(res(x), h + plain.ffn(h))


def test_addition_passes_gradient_unchanged():
    a, b = randn(5).requires_grad_(True), randn(5, seed=1).requires_grad_(True)
    upstream = randn(5, seed=2)
    (a + b).backward(upstream)
    assert torch.equal(a.grad, upstream) and torch.equal(b.grad, upstream)


def test_residual_jacobian_is_identity_plus_sublayer():
    f = randomize_(FeedForward(C))
    x = randn(C)
    J_f = torch.autograd.functional.jacobian(f, x)
    J_res = torch.autograd.functional.jacobian(lambda v: v + f(v), x)
    torch.testing.assert_close(J_res, torch.eye(C) + J_f)


@pytest.mark.parametrize("block_type", [ResidualBlock, Block])
def test_silenced_residual_stack_passes_gradient_exactly(block_type):
    stack = silence_(nn.Sequential(*[block_type(C, H, T) for _ in range(12)]))
    x = randn(2, T, C).requires_grad_(True)
    upstream = randn(2, T, C, seed=1)
    out = stack(x)
    out.backward(upstream)
    assert torch.equal(out, x.detach()) and torch.equal(x.grad, upstream)


def test_silenced_plain_stack_passes_no_gradient():
    stack = silence_(nn.Sequential(*[PlainBlock(C, H, T) for _ in range(3)]))
    x = randn(2, T, C).requires_grad_(True)
    stack(x).backward(randn(2, T, C, seed=1))
    assert (x.grad == 0).all()


def test_residual_stack_gradient_reaches_first_block():
    torch.manual_seed(0)
    res_stack = nn.Sequential(*[ResidualBlock(C, H, T) for _ in range(12)])
    plain_stack = nn.Sequential(*[PlainBlock(C, H, T) for _ in range(12)])
    plain_stack.load_state_dict(res_stack.state_dict())
    x = randn(4, T, C)
    norms = {}
    for name, stack in [("residual", res_stack), ("plain", plain_stack)]:
        stack(x).pow(2).mean().backward()
        norms[name] = (
            torch.cat([p.grad.flatten() for p in stack[0].parameters()]).norm().item()
        )
    assert norms["plain"] < 1e-4 * norms["residual"]


# ---------------------------------------------------------------- layer norm


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("eps", [1e-5, 1e-2])
def test_layernorm_matches_torch(bias, eps):
    ours, theirs = LayerNorm(C, bias=bias, eps=eps), nn.LayerNorm(C, eps=eps, bias=bias)
    randomize_(ours)
    theirs.load_state_dict(ours.state_dict())
    x = 3 * randn(2, T, C) + 1
    torch.testing.assert_close(ours(x), theirs(x))
    assert list(ours.state_dict()) == (["weight", "bias"] if bias else ["weight"])


def test_layernorm_matches_formula_and_normalises_each_token():
    ln = randomize_(LayerNorm(C))
    x = 5 * randn(2, T, C) - 2
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    torch.testing.assert_close(
        ln(x), (x - mean) / torch.sqrt(var + 1e-5) * ln.weight + ln.bias
    )
    plain = LayerNorm(C)(x)
    torch.testing.assert_close(plain.mean(-1), torch.zeros(2, T), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        plain.var(-1, unbiased=False), torch.ones(2, T), atol=1e-4, rtol=0
    )


def test_layernorm_is_per_token_and_scale_invariant():
    ln = randomize_(LayerNorm(C))
    x = randn(3, T, C)
    torch.testing.assert_close(ln(x[1, 4]), ln(x)[1, 4])
    torch.testing.assert_close(ln(100 * x), ln(x), atol=1e-4, rtol=1e-4)


def test_layernorm_bad_input_and_arguments():
    with pytest.raises(ValueError, match="width n_embd=32"):
        LayerNorm(C)(randn(2, T, 16))
    with pytest.raises(ValueError, match="n_embd"):
        LayerNorm(0)


# ---------------------------------------------------------------- Block


def test_block_formula():
    block = randomize_(Block(C, H, T))
    x = randn(2, T, C)
    h = x + block.attn(F.layer_norm(x, (C,), block.ln1.weight, block.ln1.bias))
    torch.testing.assert_close(
        block(x), h + block.ffn(F.layer_norm(h, (C,), block.ln2.weight, block.ln2.bias))
    )


def torch_layer_from_block(block: Block, bias: bool) -> nn.TransformerEncoderLayer:
    layer = nn.TransformerEncoderLayer(
        C,
        H,
        dim_feedforward=4 * C,
        dropout=0.0,
        activation=nn.GELU(approximate="tanh"),
        batch_first=True,
        norm_first=True,
        bias=bias,
    )
    with torch.no_grad():
        layer.self_attn.in_proj_weight.copy_(block.attn.qkv.weight)
        if bias:
            layer.self_attn.in_proj_bias.copy_(block.attn.qkv.bias)
        layer.self_attn.out_proj.load_state_dict(block.attn.proj.state_dict())
        layer.linear1.load_state_dict(block.ffn.fc.state_dict())
        layer.linear2.load_state_dict(block.ffn.proj.state_dict())
        layer.norm1.load_state_dict(block.ln1.state_dict())
        layer.norm2.load_state_dict(block.ln2.state_dict())
    return layer


@pytest.mark.parametrize("bias", [True, False])
def test_block_equals_torch_transformer_encoder_layer(bias):
    block = randomize_(Block(C, H, T, bias=bias))
    layer = torch_layer_from_block(block, bias)
    mask = nn.Transformer.generate_square_subsequent_mask(T)
    x_ours, x_theirs = (
        randn(3, T, C).requires_grad_(True),
        randn(3, T, C).requires_grad_(True),
    )
    ours, theirs = block(x_ours), layer(x_theirs, src_mask=mask, is_causal=True)
    torch.testing.assert_close(ours, theirs)
    upstream = randn(3, T, C, seed=1)
    ours.backward(upstream)
    theirs.backward(upstream)
    torch.testing.assert_close(x_ours.grad, x_theirs.grad)
    for name, p in block.named_parameters():  # the parameter gradients agree too
        assert p.grad is not None, name
    torch.testing.assert_close(block.ffn.fc.weight.grad, layer.linear1.weight.grad)
    torch.testing.assert_close(
        block.attn.qkv.weight.grad, layer.self_attn.in_proj_weight.grad
    )
    torch.testing.assert_close(block.ln1.weight.grad, layer.norm1.weight.grad)
