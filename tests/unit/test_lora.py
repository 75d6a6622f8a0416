"""LoRA (chapter 15): exact at creation, only adapters learn, merging changes nothing,
and every bad input gets a clear error."""

import copy

import pytest
import torch

from gptcore import GPT, GPTConfig, add_lora, merge_lora
from gptcore.checkpoint import model_for
from gptcore.lora import DEFAULT_TARGETS, LoRALinear
from gptcore.modern import ModernConfig

SMALL = dict(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=32)
LLAMA = dict(norm="rmsnorm", ffn="swiglu", position="rope", bias=False)
CONFIGS = {"gpt2": GPTConfig(**SMALL), "llama": ModernConfig(**SMALL, **LLAMA)}
CLOSE = dict(rtol=1e-4, atol=1e-4)  # the same sums in another order: float32 rounding
ALL_LINEAR = ("attn.qkv", "attn.proj", "ffn.fc", "ffn.proj", "lm_head")


def tiny(kind: str = "gpt2") -> GPT:
    torch.manual_seed(0)
    return model_for(CONFIGS[kind]).eval()


def tokens(n: int = 3) -> torch.Tensor:
    return torch.randint(20, (n, 16), generator=torch.Generator().manual_seed(1))


def adapters(model: torch.nn.Module) -> list[LoRALinear]:
    return [m for m in model.modules() if isinstance(m, LoRALinear)]


def train_a_little(model: GPT, steps: int = 5) -> None:
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-2
    )
    model.train()
    for _ in range(steps):
        _, loss = model(tokens(), tokens().roll(1, dims=1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()


@pytest.mark.parametrize("kind", CONFIGS)
@pytest.mark.parametrize("targets", [DEFAULT_TARGETS, ALL_LINEAR])
def test_at_creation_the_adapted_model_computes_exactly_the_base(kind, targets):
    base = tiny(kind)
    adapted = add_lora(copy.deepcopy(base), rank=4, targets=targets)
    with torch.no_grad():
        assert torch.equal(adapted(tokens())[0], base(tokens())[0])
    per_block = len(targets) - ("lm_head" in targets)
    assert len(adapters(adapted)) == 2 * per_block + ("lm_head" in targets)


@pytest.mark.parametrize("kind", CONFIGS)
def test_only_adapter_parameters_receive_gradients(kind):
    model = add_lora(tiny(kind), rank=2)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters()}
    train_a_little(model, steps=2)
    for name, p in model.named_parameters():
        if "lora_" in name:
            assert p.requires_grad and p.grad is not None, name
            assert p.grad.abs().sum() > 0, name
        else:
            assert not p.requires_grad and p.grad is None, name
            assert torch.equal(p, frozen[name]), name
    count = sum(p.numel() for p in model.parameters() if p.requires_grad)
    c = CONFIGS[kind]
    qkv_out = 3 * c.n_embd  # no grouped keys and values here
    per_block = 2 * (c.n_embd + qkv_out) + 2 * (c.n_embd + c.n_embd)
    assert count == c.n_layer * per_block


@pytest.mark.parametrize("kind", CONFIGS)
def test_merged_weights_compute_what_the_adapter_computes(kind):
    model = add_lora(tiny(kind), rank=4, alpha=16.0, targets=ALL_LINEAR)
    train_a_little(model)
    assert all(m.lora_B.abs().sum() > 0 for m in adapters(model))
    with torch.no_grad():
        adapted_logits = model(tokens())[0]
        merged = merge_lora(copy.deepcopy(model)).eval()
        assert not adapters(merged)
        assert all(p.requires_grad for p in merged.parameters())
        torch.testing.assert_close(merged(tokens())[0], adapted_logits, **CLOSE)
        plain = model_for(CONFIGS[kind]).eval()
        plain.load_state_dict(merged.state_dict())  # strict: a plain GPT's names
        torch.testing.assert_close(plain(tokens())[0], adapted_logits, **CLOSE)
        assert (plain(tokens())[0] - tiny(kind)(tokens())[0]).abs().max() > 1e-3


def test_the_update_is_scaled_by_alpha_over_rank():
    layer = LoRALinear(torch.nn.Linear(8, 6), rank=2, alpha=3.0)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(5, 8)
    by_hand = layer.base(x) + 1.5 * x @ (layer.lora_B @ layer.lora_A).T
    torch.testing.assert_close(layer(x), by_hand)
    torch.testing.assert_close(layer.merged()(x), by_hand)
    assert "rank=2, alpha=3" in repr(layer)


def test_targets_match_whole_name_parts_only():
    model = add_lora(tiny(), rank=2, targets=("proj",))  # attn.proj and ffn.proj
    names = sorted(n for n, m in model.named_modules() if isinstance(m, LoRALinear))
    assert names == [
        f"blocks.{i}.{part}.proj" for i in (0, 1) for part in ("attn", "ffn")
    ]
    with pytest.raises(ValueError, match="name no linear layer"):
        add_lora(tiny(), rank=2, targets=("roj",))  # not a whole part of a name


@pytest.mark.parametrize(
    "rank, error, message",
    [
        (0, ValueError, "rank must be a positive integer, got 0"),
        (-3, ValueError, "rank must be a positive integer"),
        (2.5, TypeError, "rank must be an int"),
        (True, TypeError, "rank must be an int"),
        (33, ValueError, r"choose a rank from 1 to 32"),
    ],
)
def test_bad_ranks_get_clear_errors(rank, error, message):
    model = tiny()
    with pytest.raises(error, match=message):
        add_lora(model, rank=rank)
    assert not adapters(model)
    assert all(p.requires_grad for p in model.parameters())  # nothing changed


def test_the_rank_limit_is_each_targeted_layers_width():
    model = add_lora(tiny(), rank=20, targets=("lm_head",))  # 32 -> 20: up to 20
    assert len(adapters(model)) == 1
    with pytest.raises(ValueError, match=r"width of lm_head \(32 -> 20\).* 1 to 20"):
        add_lora(tiny(), rank=21, targets=("lm_head",))
    with pytest.raises(ValueError, match="choose a rank from 1 to 8"):
        LoRALinear(torch.nn.Linear(8, 64), rank=9)


def test_targets_that_name_nothing_list_the_layers():
    with pytest.raises(ValueError) as caught:
        add_lora(tiny(), rank=2, targets=("attn.query",))
    message = str(caught.value)
    assert "('attn.query',)" in message
    assert "attn.qkv, attn.proj, ffn.fc, ffn.proj, lm_head" in message  # short
    assert "blocks.0.attn.qkv" in message  # and one in full
    with pytest.raises(TypeError, match="tuple of layer names"):
        add_lora(tiny(), rank=2, targets="attn.qkv")


def test_lora_twice_and_merging_nothing_are_errors():
    model = add_lora(tiny(), rank=2)
    with pytest.raises(ValueError, match="already has LoRA adapters"):
        add_lora(model, rank=2)
    with pytest.raises(ValueError, match="no LoRA adapters to merge"):
        merge_lora(tiny())
    merge_lora(model)
    add_lora(model, rank=2)  # merged: a plain model again, ready for a new adapter


BAD_ALPHAS = [
    (0, ValueError),
    (-1.0, ValueError),
    (float("inf"), ValueError),
    (float("-inf"), ValueError),
    (float("nan"), ValueError),
    (True, TypeError),
    ("8", TypeError),
    (None, TypeError),
]


@pytest.mark.parametrize("alpha, error", BAD_ALPHAS)
def test_bad_alphas_get_clear_errors(alpha, error):
    model = tiny()
    with pytest.raises(error, match="alpha must be"):
        add_lora(model, rank=2, alpha=alpha)
    assert not adapters(model)
    with pytest.raises(error, match="alpha must be"):
        LoRALinear(torch.nn.Linear(8, 8), rank=2, alpha=alpha)
    with pytest.raises(TypeError, match="wraps an nn.Linear"):
        LoRALinear(torch.nn.Conv1d(2, 2, 1), rank=1)


@pytest.mark.parametrize("alpha", [float("inf"), float("nan")])
def test_a_non_finite_alpha_says_it_must_be_finite(alpha):
    with pytest.raises(ValueError, match=r"alpha must be a finite number"):
        add_lora(tiny(), rank=2, alpha=alpha)


def refusal(model: torch.nn.Module, **kwargs) -> str:
    """add_lora's ValueError message; the model left as it was, without adapters."""
    with pytest.raises(ValueError) as caught:
        add_lora(model, **kwargs)
    assert not adapters(model)
    return str(caught.value)


def test_every_target_must_name_a_layer():
    model = tiny()
    message = refusal(model, rank=2, targets=("attn.qkv", "ffn.fcc"))
    assert "('ffn.fcc',) name no linear layer" in message
    assert "attn.qkv, attn.proj, ffn.fc, ffn.proj, lm_head" in message
    assert all(p.requires_grad for p in model.parameters())  # not even attn.qkv


@pytest.mark.parametrize("targets", [(), ("",), ("attn.qkv", " ")])
def test_empty_targets_are_refused(targets):
    model = tiny()
    with pytest.raises(ValueError, match="targets"):
        add_lora(model, rank=2, targets=targets)
    assert not adapters(model)
    layer = torch.nn.Linear(8, 8)  # a model that is itself a Linear: name ""
    with pytest.raises(ValueError, match="targets"):
        add_lora(layer, rank=2, targets=targets)
    assert isinstance(layer, torch.nn.Linear) and not adapters(layer)


def tied() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(**SMALL, tie_weights=True)).eval()


def test_a_tied_output_head_is_refused():
    model = tied()
    message = refusal(model, rank=4, targets=("lm_head", "attn.qkv"))
    assert "lm_head shares its weight with embed.token (tie_weights=True)" in message
    assert "LoRA would untie them; leave lm_head out of targets" in message
    assert model.lm_head.weight is model.embed.token.weight
    untouched = add_lora(tied(), rank=4, targets=ALL_LINEAR[:-1])  # all but lm_head
    train_a_little(untouched)
    merged = merge_lora(untouched)
    assert merged.lm_head.weight is merged.embed.token.weight  # still one matrix


def test_any_shared_linear_weight_is_refused():
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Linear(8, 8))
    model[1].weight = model[0].weight
    with pytest.raises(ValueError, match=r"^1 shares its weight with 0: LoRA would"):
        add_lora(model, rank=2, targets=("1",))
    twice = torch.nn.Sequential(model[0], model[0])  # one layer under two names
    with pytest.raises(ValueError, match=r"^0 shares its weight with 1: LoRA would"):
        add_lora(twice, rank=2, targets=("0",))
    assert not adapters(model) and not adapters(twice)
