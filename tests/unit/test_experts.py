"""Chapter 18's mixture of experts: the router's conventions, the grouped experts
against a loop and against transformers, the balancing loss, the model and its count."""

import pytest
import torch
from transformers import MixtralConfig, MixtralForCausalLM, Qwen3MoeConfig
from transformers.models.mixtral.modeling_mixtral import (
    MixtralSparseMoeBlock,
    load_balancing_loss_func,
)
from transformers.models.qwen3_moe.modeling_qwen3_moe import Qwen3MoeSparseMoeBlock

from gptcore.experts import (
    MixtureOfExperts,
    MoEConfig,
    MoEGPT,
    Router,
    balanced_loss,
    balancing_loss,
    moe_param_count,
)
from gptcore.generation import KVCache
from gptcore.training import next_token_loss

SHAPE = dict(
    vocab_size=40,
    block_size=20,
    n_layer=2,
    n_head=4,
    n_embd=32,
    n_kv_head=2,
    bias=False,
    norm="rmsnorm",
    position="rope",
    ffn="swiglu",
    ffn_hidden=24,
)


def inputs(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(top_k=5), "top_k=5 is more than n_experts=4"),
        (dict(top_k=0), "top_k must be a positive integer"),
        (dict(n_experts=0, top_k=1), "n_experts must be a positive integer"),
        (dict(routing="sinkhorn"), "'sinkhorn'"),
        (dict(ffn="gelu"), "ffn must be 'swiglu'"),
        (dict(aux_loss_coef=-0.5), "aux_loss_coef must be >= 0"),
    ],
)
def test_bad_settings_are_refused_by_name(change, words):
    with pytest.raises(ValueError, match=words):
        MoEConfig(**(SHAPE | dict(n_experts=4, top_k=2) | change))


def test_moegpt_takes_only_a_moeconfig():
    from gptcore.modern import ModernConfig

    with pytest.raises(TypeError, match="MoEGPT takes a MoEConfig"):
        MoEGPT(ModernConfig(**SHAPE))


def test_chosen_weights_sum_to_one_and_equal_all_renormalised():
    torch.manual_seed(0)
    chosen = Router(16, 5, 3)
    every = Router(16, 5, 3, routing="all")
    every.load_state_dict(chosen.state_dict())
    x = inputs(30, 16)
    w, e, probs = chosen(x)
    share, e2, _ = every(x)
    assert torch.equal(e, e2)
    torch.testing.assert_close(w.sum(-1), torch.ones(30))
    assert (share.sum(-1) < 1).all()
    torch.testing.assert_close(share / share.sum(-1, keepdim=True), w)
    torch.testing.assert_close(probs.sum(-1), torch.ones(30))


@pytest.mark.parametrize("routing", ["chosen", "all"])
def test_grouped_by_expert_equals_a_loop_over_tokens(routing):
    torch.manual_seed(0)
    moe = MixtureOfExperts(16, 4, 2, hidden=24, routing=routing)
    x = inputs(3, 7, 16)
    with torch.no_grad():
        weights, experts, _ = moe.router(x.reshape(-1, 16))
        loop = torch.stack(
            [
                sum(w * moe.experts[int(e)](row) for w, e in zip(ws, es))
                for row, ws, es in zip(x.reshape(-1, 16), weights, experts)
            ]
        ).view_as(x)
        torch.testing.assert_close(moe(x), loop)
    assert moe.load.sum().item() == 3 * 7 * 2


def copy_into(moe: MixtureOfExperts, theirs: torch.nn.Module) -> None:
    with torch.no_grad():
        theirs.gate.weight.copy_(moe.router.gate.weight)
        for e, expert in enumerate(moe.experts):
            theirs.experts.gate_up_proj[e].copy_(expert.fc.weight)
            theirs.experts.down_proj[e].copy_(expert.proj.weight)


@pytest.mark.parametrize("normalise", [False, True])
def test_qwen3_moe_block_is_ours(normalise):
    torch.manual_seed(0)
    theirs = Qwen3MoeSparseMoeBlock(
        Qwen3MoeConfig(
            hidden_size=16,
            moe_intermediate_size=24,
            num_experts=6,
            num_experts_per_tok=2,
            norm_topk_prob=normalise,
        )
    )
    ours = MixtureOfExperts(
        16, 6, 2, hidden=24, routing="chosen" if normalise else "all"
    )
    copy_into(ours, theirs)
    x = inputs(2, 9, 16)
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max() < 1e-5


def test_mixtral_block_is_ours():
    torch.manual_seed(0)
    config = MixtralConfig(
        hidden_size=16, intermediate_size=24, num_local_experts=4, num_experts_per_tok=2
    )
    theirs = MixtralSparseMoeBlock(config)
    ours = MixtureOfExperts(16, 4, 2, hidden=24)
    copy_into(ours, theirs)
    x = inputs(2, 9, 16)
    with torch.no_grad():
        assert (ours(x) - theirs(x)).abs().max() < 1e-5


def test_balancing_loss_is_transformers_and_k_when_even():
    logits = inputs(20, 4)
    _, chosen = logits.topk(2)
    theirs = load_balancing_loss_func((logits,), 4, 2)
    torch.testing.assert_close(balancing_loss(logits.softmax(-1), chosen), theirs)
    even = torch.full((8, 4), 0.25)
    spread = torch.arange(16).remainder(4).view(8, 2)
    assert balancing_loss(even, spread).item() == 2


def tiny_model() -> MoEGPT:
    torch.manual_seed(0)
    return MoEGPT(MoEConfig(**SHAPE, n_experts=4, top_k=2)).eval()


def test_the_count_is_what_the_class_builds():
    model = tiny_model()
    total, active = moe_param_count(model.config)
    assert model.num_params() == total
    expert = 3 * 32 * 24  # fc: [gate | up], and proj
    assert total - active == 2 * 2 * expert  # two experts unused per block


def test_cached_equals_uncached():
    model = tiny_model()
    idx = torch.randint(0, 40, (2, 20), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole, _ = model(idx)
        cache = KVCache(2)
        parts = [model(idx[:, :12], cache=cache)[0]]
        parts += [model(idx[:, t : t + 1], cache=cache)[0] for t in range(12, 20)]
    torch.testing.assert_close(torch.cat(parts, 1), whole)


def test_balanced_loss_adds_the_weighted_aux_loss_and_trains_the_router():
    model = tiny_model().train()
    idx = torch.randint(0, 40, (2, 20), generator=torch.Generator().manual_seed(1))
    batch = (idx, idx.roll(-1, 1))
    loss = balanced_loss(model, batch)
    expected = next_token_loss(model, batch) + 0.01 * model.aux_loss()
    torch.testing.assert_close(loss, expected)
    model.aux_loss().backward()
    assert model.blocks[0].ffn.router.gate.weight.grad.abs().sum() > 0


def mixtral_names(model: MoEGPT) -> dict[str, torch.Tensor]:
    """transformers' names of a tiny Mixtral's tensors -> ours."""
    sd = {"model.embed_tokens.weight": model.embed.token.weight}
    for i, b in enumerate(model.blocks):
        h, a = f"model.layers.{i}.", f"model.layers.{i}.self_attn."
        rows = [b.attn.n_embd, b.attn.kv_width, b.attn.kv_width]
        for part, w in zip("qkv", b.attn.qkv.weight.split(rows), strict=True):
            sd[f"{a}{part}_proj.weight"] = w
        sd[a + "o_proj.weight"] = b.attn.proj.weight
        sd[h + "input_layernorm.weight"] = b.ln1.weight
        sd[h + "post_attention_layernorm.weight"] = b.ln2.weight
        sd[h + "mlp.gate.weight"] = b.ffn.router.gate.weight
        sd[h + "mlp.experts.gate_up_proj"] = torch.stack(
            [e.fc.weight for e in b.ffn.experts]
        )
        sd[h + "mlp.experts.down_proj"] = torch.stack(
            [e.proj.weight for e in b.ffn.experts]
        )
    sd["model.norm.weight"] = model.ln_f.weight
    sd["lm_head.weight"] = model.lm_head.weight
    return sd


def test_a_whole_mixtral_computes_our_logits():
    model = tiny_model()
    c = model.config
    theirs = MixtralForCausalLM(
        MixtralConfig(
            vocab_size=c.vocab_size,
            hidden_size=c.n_embd,
            intermediate_size=c.ffn_hidden,
            num_hidden_layers=c.n_layer,
            num_attention_heads=c.n_head,
            num_key_value_heads=c.n_kv_head,
            num_local_experts=c.n_experts,
            num_experts_per_tok=c.top_k,
            max_position_embeddings=c.block_size,
            rms_norm_eps=c.norm_eps,
            rope_parameters={"rope_type": "default", "rope_theta": c.rope_theta},
            sliding_window=None,
            tie_word_embeddings=False,
        )
    ).eval()
    theirs.load_state_dict(
        {k: v.detach().clone() for k, v in mixtral_names(model).items()}, strict=True
    )
    idx = torch.randint(0, 40, (2, 20), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours, _ = model(idx)
        assert (ours - theirs(idx).logits).abs().max() < 1e-4
