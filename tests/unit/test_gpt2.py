"""Tests of gptcore.gpt2: GPT-2's shapes, and the same logits as transformers'
GPT2LMHeadModel."""

import subprocess
import sys

import pytest
import torch
from torch import nn
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.activations import ACT2FN

from gptcore.feedforward import FeedForward
from gptcore.gpt2 import GPT2_SIZES, gpt2_config, gpt2_state_dict, to_huggingface
from gptcore.model import GPT, GPTConfig

HF_SIZES = {
    "small": (12, 12, 768),
    "medium": (24, 16, 1024),
    "large": (36, 20, 1280),
    "xl": (48, 25, 1600),
}


def random_gpt(config: GPTConfig, seed: int = 0) -> GPT:
    """A GPT whose biases and layer norms are random too, so that a mix-up in any tensor
    shows in the logits."""
    torch.manual_seed(seed)
    model = GPT(config).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model


def max_logit_difference(
    model: GPT, hf: GPT2LMHeadModel, seq_len: int = 24, seed: int = 1
) -> float:
    idx = torch.randint(
        model.config.vocab_size,
        (2, seq_len),
        generator=torch.Generator().manual_seed(seed),
    )
    with torch.no_grad():
        return (model(idx)[0] - hf(idx, use_cache=False).logits).abs().max().item()


SMALL = dict(vocab_size=101, block_size=32, n_layer=2, n_head=4, n_embd=32)


def test_gpt2_small_has_124_439_808_parameters():
    with torch.device("meta"):
        model = GPT(gpt2_config("small"))
    assert sum(p.numel() for p in model.parameters()) == 124_439_808


@pytest.mark.parametrize("size", list(GPT2_SIZES))
def test_every_size_has_the_reference_parameter_count(size):
    n_layer, n_head, n_embd = HF_SIZES[size]
    config = gpt2_config(size)
    assert (config.n_layer, config.n_head, config.n_embd) == (n_layer, n_head, n_embd)
    assert (config.vocab_size, config.block_size, config.tie_weights, config.bias) == (
        50257,
        1024,
        True,
        True,
    )
    with torch.device("meta"):
        ours = GPT(config)
        theirs = GPT2LMHeadModel(
            GPT2Config(n_layer=n_layer, n_head=n_head, n_embd=n_embd)
        )
    assert sum(p.numel() for p in ours.parameters()) == sum(
        p.numel() for p in theirs.parameters()
    )


def test_gpt2_config_rejects_an_unknown_size():
    with pytest.raises(ValueError, match="choose one of"):
        gpt2_config("huge")


def test_state_dict_has_the_reference_names_and_shapes_without_copying():
    model = random_gpt(GPTConfig(**SMALL, tie_weights=True))
    sd = gpt2_state_dict(model)
    with torch.device("meta"):
        reference = GPT2LMHeadModel(
            GPT2Config(
                vocab_size=101,
                n_positions=32,
                n_layer=2,
                n_head=4,
                n_embd=32,
                bos_token_id=None,
                eos_token_id=None,
            )
        )
    assert list(sd) == list(reference.state_dict())
    assert all(sd[k].shape == v.shape for k, v in reference.state_dict().items())
    block = model.blocks[1]
    assert torch.equal(
        sd["transformer.h.1.attn.c_attn.weight"], block.attn.qkv.weight.T
    )  # Conv1D: (in, out)
    assert torch.equal(sd["transformer.h.1.mlp.c_proj.weight"], block.ffn.proj.weight.T)
    assert (
        sd["transformer.h.1.attn.c_proj.weight"].data_ptr()
        == block.attn.proj.weight.data_ptr()
    )  # a view
    assert sd["lm_head.weight"] is model.embed.token.weight


@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("dropout", [0.0, 0.1])
def test_to_huggingface_gives_the_same_logits(tie, dropout):
    model = random_gpt(GPTConfig(**SMALL, dropout=dropout, tie_weights=tie))
    hf = to_huggingface(model)
    assert not hf.training
    assert (hf.lm_head.weight is hf.transformer.wte.weight) == tie
    assert sum(p.numel() for p in hf.parameters()) == sum(
        p.numel() for p in model.parameters()
    )
    assert max_logit_difference(model, hf) < 1e-5


def test_to_huggingface_copies_the_weights():
    model = random_gpt(GPTConfig(**SMALL, tie_weights=True))
    before = model.embed.token.weight.clone()
    hf = to_huggingface(model)
    with torch.no_grad():
        hf.transformer.wte.weight.zero_()
    assert torch.equal(model.embed.token.weight, before)
    assert hf.transformer.wte.weight.device.type == "cpu"


def test_to_huggingface_rejects_a_model_without_biases():
    with pytest.raises(ValueError, match="bias=True"):
        to_huggingface(GPT(GPTConfig(**SMALL, bias=False)))


def test_gpt2_gelu_is_our_tanh_approximation_not_the_exact_gelu():
    x = torch.linspace(-6, 6, 1201)
    ours = FeedForward(8).act(x)
    torch.testing.assert_close(ACT2FN["gelu_new"](x), ours)
    assert (nn.functional.gelu(x) - ours).abs().max() > 1e-4


def test_the_check_catches_the_two_mistakes():
    model = random_gpt(
        GPTConfig(vocab_size=101, block_size=32, n_layer=2, n_head=4, n_embd=64)
    )
    with (
        torch.no_grad()
    ):  # larger weights: GELU inputs reach |x| ~ 3, where the two GELUs differ most
        for block in model.blocks:
            block.ffn.fc.weight.mul_(10)
            block.ffn.proj.weight.mul_(10)
        model.embed.token.weight.mul_(10)  # tied to the output layer: larger logits
    hf = to_huggingface(model)
    assert max_logit_difference(model, hf) < 1e-5
    with (
        torch.no_grad()
    ):  # a forgotten transpose of the square attention projection loads, but is wrong
        for block in hf.transformer.h:
            block.attn.c_proj.weight.copy_(block.attn.c_proj.weight.T.clone())
    assert max_logit_difference(model, hf) > 1e-2
    hf = to_huggingface(model)
    for (
        block
    ) in hf.transformer.h:  # the exact GELU instead of GPT-2's tanh approximation
        block.mlp.act = nn.GELU()
    assert max_logit_difference(model, hf) > 1e-4
    for block in hf.transformer.h:
        block.mlp.act = ACT2FN["gelu_new"]
    assert max_logit_difference(model, hf) < 1e-5


def test_gpt2_small_gives_the_same_logits_as_transformers():
    model = random_gpt(gpt2_config("small"))
    hf = to_huggingface(model)
    assert max_logit_difference(model, hf, seq_len=16) < 1e-4


def test_importing_gptcore_does_not_import_transformers():
    code = (
        "import sys, gptcore, gptcore.gpt2; "
        "assert 'transformers' not in sys.modules, 'gptcore imported transformers'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
