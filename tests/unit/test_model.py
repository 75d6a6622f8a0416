"""Tests for gptcore.embeddings (chapter 7) and gptcore.model (chapter 8)."""

import math

import pytest
import torch

from gptcore.attention import MultiHeadAttention
from gptcore.embeddings import Embeddings
from gptcore.model import GPT, GPTConfig, param_count_formula

VOCAB = 20


def small_config(**overrides) -> GPTConfig:
    settings = dict(vocab_size=VOCAB, block_size=16, n_layer=2, n_head=4, n_embd=32)
    settings.update(overrides)
    return GPTConfig(**settings)


def small_model(seed: int = 0, **overrides) -> GPT:
    torch.manual_seed(seed)
    return GPT(small_config(**overrides)).eval()


def random_ids(batch: int, length: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(
        VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed)
    )


# --- Embeddings -----------------------------------------------------------------------


def test_embeddings_is_token_plus_position():
    emb = Embeddings(VOCAB, 8, 16)
    idx = random_ids(3, 5)
    out = emb(idx)
    assert out.shape == (3, 5, 16)
    torch.testing.assert_close(out, emb.token.weight[idx] + emb.position.weight[:5])
    assert emb.token.weight.shape == (VOCAB, 16) and emb.position.weight.shape == (
        8,
        16,
    )


def test_embeddings_rejects_bad_input():
    emb = Embeddings(VOCAB, 8, 16)
    with pytest.raises(ValueError, match="block_size=8"):
        emb(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 20\)"):
        emb(torch.full((1, 4), VOCAB))
    with pytest.raises(TypeError, match="integer"):
        emb(torch.zeros(1, 4))


def test_positions_tell_permuted_sentences_apart():
    """Causal attention ends reordered sentences on the same vector, unless positions
    are added."""
    torch.manual_seed(0)
    emb, attn = Embeddings(VOCAB, 8, 16), MultiHeadAttention(16, 4, 8).eval()
    a, b = (
        torch.tensor([[1, 2, 3, 4]]),
        torch.tensor([[3, 2, 1, 4]]),
    )  # same tokens, same last token
    with torch.no_grad():
        torch.testing.assert_close(attn(emb.token(a))[0, -1], attn(emb.token(b))[0, -1])
        assert not torch.allclose(attn(emb(a))[0, -1], attn(emb(b))[0, -1], atol=1e-4)


# --- GPTConfig ------------------------------------------------------------------------


def test_config_defaults():
    c = GPTConfig(vocab_size=65)
    assert (
        c.block_size,
        c.n_layer,
        c.n_head,
        c.n_embd,
        c.dropout,
        c.bias,
        c.tie_weights,
    ) == (64, 4, 8, 64, 0.0, True, False)


@pytest.mark.parametrize(
    "overrides, error, match",
    [
        (dict(vocab_size=0), ValueError, "vocab_size"),
        (dict(block_size=-1), ValueError, "block_size"),
        (dict(n_layer=0), ValueError, "n_layer"),
        (dict(n_head=0), ValueError, "n_head"),
        (dict(n_embd=0), ValueError, "n_embd"),
        (dict(n_embd=32, n_head=5), ValueError, "not divisible"),
        (dict(dropout=1.0), ValueError, "dropout"),
        (dict(dropout=-0.1), ValueError, "dropout"),
        (dict(n_embd=32.0), TypeError, "n_embd"),
        (dict(n_layer=True), TypeError, "n_layer"),
        (dict(dropout="0.1"), TypeError, "dropout"),
        (dict(bias=1), TypeError, "bias"),
        (dict(tie_weights="yes"), TypeError, "tie_weights"),
    ],
)
def test_config_rejects_impossible_settings(overrides, error, match):
    with pytest.raises(error, match=match):
        small_config(**overrides)


def test_gpt_requires_a_config():
    with pytest.raises(TypeError, match="GPTConfig"):
        GPT(dict(vocab_size=VOCAB))


# --- GPT: shapes, loss, errors --------------------------------------------------------


def test_attribute_names():
    model = small_model()
    assert isinstance(model.embed, Embeddings)
    assert len(model.blocks) == 2 and isinstance(model.blocks, torch.nn.ModuleList)
    assert model.lm_head.bias is None and model.lm_head.weight.shape == (VOCAB, 32)
    for name in ("drop", "ln_f"):
        assert hasattr(model, name)


@pytest.mark.parametrize("batch, length", [(1, 1), (3, 7), (2, 16)])
def test_forward_shapes(batch, length):
    model = small_model()
    idx = random_ids(batch, length)
    logits, loss = model(idx)
    assert logits.shape == (batch, length, VOCAB) and loss is None
    logits, loss = model(idx, random_ids(batch, length, seed=1))
    assert logits.shape == (batch, length, VOCAB) and loss.shape == ()


def test_loss_is_cross_entropy():
    model = small_model()
    idx, targets = random_ids(2, 10), random_ids(2, 10, seed=1)
    logits, loss = model(idx, targets)
    torch.testing.assert_close(
        loss, -logits.log_softmax(-1).gather(-1, targets[..., None]).mean()
    )


def test_loss_at_initialisation_is_ln_vocab():
    vocab = 76
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vocab)).eval()
    g = torch.Generator().manual_seed(0)
    idx, targets = (
        torch.randint(vocab, (8, 64), generator=g),
        torch.randint(vocab, (8, 64), generator=g),
    )
    with torch.no_grad():
        _, loss = model(idx, targets)
    assert abs(loss.item() - math.log(vocab)) < 0.1


def test_causality_of_the_whole_model():
    model = small_model()
    idx = random_ids(2, 16)
    changed = idx.clone()
    t = 9
    changed[:, t] = (changed[:, t] + 1) % VOCAB
    with torch.no_grad():
        before, after = model(idx)[0], model(changed)[0]
    torch.testing.assert_close(before[:, :t], after[:, :t])
    assert not torch.allclose(before[:, t:], after[:, t:])


def test_prefix_logits_do_not_depend_on_window_length():
    model = small_model()
    idx = random_ids(1, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(idx[:, :5])[0], model(idx)[0][:, :5])


@pytest.mark.parametrize(
    "idx, error, match",
    [
        (torch.zeros(1, 17, dtype=torch.long), ValueError, "block_size=16"),
        (torch.zeros(16, dtype=torch.long), ValueError, "batch"),
        (torch.zeros(1, 0, dtype=torch.long), ValueError, "no tokens"),
        (torch.zeros(1, 4), TypeError, "integer"),
        (torch.full((1, 4), VOCAB), ValueError, "vocab|0, 20"),
    ],
)
def test_forward_rejects_bad_input(idx, error, match):
    with pytest.raises(error, match=match):
        small_model()(idx)


def test_forward_rejects_mismatched_targets():
    with pytest.raises(ValueError, match="targets"):
        small_model()(random_ids(2, 8), random_ids(2, 7))


def test_backward_reaches_every_parameter():
    model = small_model()
    model.train()
    _, loss = model(random_ids(2, 16), random_ids(2, 16, seed=1))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_dropout_only_in_training_mode():
    model = small_model(dropout=0.2)
    idx = random_ids(2, 16)
    model.train()
    assert not torch.allclose(model(idx)[0], model(idx)[0])
    model.eval()
    torch.testing.assert_close(model(idx)[0], model(idx)[0])


# --- Initialisation and parameter count -----------------------------------------------


def test_gpt2_initialisation():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=VOCAB, n_layer=8, n_embd=128, n_head=8))
    scaled = 0.02 / math.sqrt(2 * 8)
    for name, p in model.named_parameters():
        if name.endswith(("attn.proj.weight", "ffn.proj.weight")):
            assert abs(p.std().item() - scaled) < 0.1 * scaled, name
        elif name.endswith("bias"):
            assert (p == 0).all(), name
        elif ".ln" in name or name.startswith("ln_f"):
            assert (p == 1).all(), name
        else:
            assert abs(p.std().item() - 0.02) < 0.002, name


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("tie_weights", [True, False])
@pytest.mark.parametrize(
    "sizes",
    [
        dict(),
        dict(n_layer=3, n_head=2, n_embd=24, block_size=5),
        dict(n_layer=1, n_head=1, n_embd=8),
    ],
)
def test_param_count_formula(bias, tie_weights, sizes):
    config = small_config(bias=bias, tie_weights=tie_weights, **sizes)
    model = GPT(config)
    assert (
        model.num_params()
        == param_count_formula(config)
        == sum(p.numel() for p in model.parameters())
    )


def test_param_count_formula_in_closed_form():
    V, T, C, L = 76, 64, 64, 4
    config = GPTConfig(vocab_size=V, block_size=T, n_layer=L, n_embd=C)
    assert (
        param_count_formula(config)
        == V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C + V * C
    )


def test_param_count_gpt2_small():
    config = GPTConfig(
        vocab_size=50257,
        block_size=1024,
        n_layer=12,
        n_head=12,
        n_embd=768,
        tie_weights=True,
    )
    with torch.device("meta"):
        model = GPT(config)
    assert model.num_params() == param_count_formula(config) == 124_439_808


# --- Weight tying, state_dict, devices ------------------------------------------------


def test_weight_tying_shares_one_matrix():
    model = small_model(tie_weights=True)
    assert model.lm_head.weight is model.embed.token.weight
    assert small_model().num_params() - model.num_params() == VOCAB * 32


@pytest.mark.parametrize("tie_weights", [False, True])
def test_state_dict_round_trip(tmp_path, tie_weights):
    model = small_model(seed=0, tie_weights=tie_weights)
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path)
    other = small_model(seed=1, tie_weights=tie_weights)
    idx = random_ids(2, 16)
    assert not torch.allclose(model(idx)[0], other(idx)[0])
    other.load_state_dict(torch.load(path, weights_only=True))
    torch.testing.assert_close(model(idx)[0], other(idx)[0], rtol=0, atol=0)
    if tie_weights:
        assert other.lm_head.weight is other.embed.token.weight


def check_device(device: str) -> None:
    model = small_model()
    idx, targets = random_ids(2, 16), random_ids(2, 16, seed=1)
    with torch.no_grad():
        cpu_logits, cpu_loss = model(idx, targets)
        model.to(device)
        logits, loss = model(idx.to(device), targets.to(device))
    assert logits.device.type == device and loss.device.type == device
    torch.testing.assert_close(logits.cpu(), cpu_logits, atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(loss.cpu(), cpu_loss, atol=1e-4, rtol=1e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda():
    check_device("cuda")


@pytest.mark.skipif(
    not torch.backends.mps.is_available(), reason="needs an Apple MPS device"
)
def test_mps():
    check_device("mps")


def test_meta_device_builds_without_memory():
    with torch.device("meta"):
        model = GPT(small_config())
    assert all(p.device.type == "meta" for p in model.parameters())


def test_init_weights_draws_gpt2s_initialisation_again():
    """init_weights: every linear and embedding weight N(0, 0.02^2), biases 0, the
    residual projections scaled by 1/sqrt(2L); norms keep what they hold."""
    torch.manual_seed(3)
    config = GPTConfig(vocab_size=50, block_size=32, n_layer=2, n_head=2, n_embd=64)
    model = GPT(config)
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(0.5)
    model.init_weights()
    scaled = 0.02 / (2 * config.n_layer) ** 0.5
    for name, p in model.named_parameters():
        if ".ln" in name or name.startswith("ln_f"):
            assert (p == 0.5).all(), name
        elif name.endswith("bias"):
            assert (p == 0).all(), name
        else:
            std = scaled if name.endswith("proj.weight") else 0.02
            assert abs(p.std().item() - std) < 0.2 * std, name
