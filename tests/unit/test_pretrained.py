"""Tests of gptcore.pretrained: Hugging Face checkpoints, in and out, vs transformers.

Every checkpoint is made here, offline: a tiny transformers model with random weights,
saved into a temporary folder. Nothing is downloaded.
"""

import json
import os
import subprocess
import sys
from dataclasses import fields, replace

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoModelForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    MistralConfig,
    MistralForCausalLM,
    MixtralConfig,
    MixtralForCausalLM,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
    Qwen3MoeConfig,
    Qwen3MoeForCausalLM,
)

from gptcore.experts import MoEConfig, MoEGPT
from gptcore.generation import KVCache
from gptcore.model import GPT, GPTConfig
from gptcore.modern import ModernConfig, ModernGPT
from gptcore.pretrained import (
    hf_config,
    hf_state_dict,
    load_pretrained,
    save_pretrained,
)

TOL = 1e-4  # max abs difference of float32 logits
LLAMA = dict(
    vocab_size=61,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=32,
    rms_norm_eps=1e-5,
    bos_token_id=None,
    eos_token_id=None,
    pad_token_id=None,
)
GPT2 = dict(
    vocab_size=61,
    n_positions=32,
    n_embd=32,
    n_layer=2,
    n_head=4,
    bos_token_id=None,
    eos_token_id=None,
)
HF_MODELS = {  # name -> a tiny transformers model, and the block_size gptcore gives it
    "gpt2": (lambda: GPT2LMHeadModel(GPT2Config(**GPT2)), 32),
    "gpt2-untied-n_inner": (
        lambda: GPT2LMHeadModel(
            GPT2Config(
                **GPT2, n_inner=40, tie_word_embeddings=False, layer_norm_epsilon=1e-6
            )
        ),
        32,
    ),
    "llama-gqa": (
        lambda: LlamaForCausalLM(
            LlamaConfig(**LLAMA, num_key_value_heads=2, rope_theta=500000.0)
        ),
        32,
    ),
    "llama-tied-mqa": (
        lambda: LlamaForCausalLM(
            LlamaConfig(**LLAMA, num_key_value_heads=1, tie_word_embeddings=True)
        ),
        32,
    ),
    "mistral": (
        lambda: MistralForCausalLM(
            MistralConfig(**LLAMA, num_key_value_heads=2, sliding_window=None)
        ),
        32,
    ),
    "mistral-window": (
        lambda: MistralForCausalLM(
            MistralConfig(**LLAMA, num_key_value_heads=2, sliding_window=6)
        ),
        32,  # the window, 6, is shorter than the context: chapter 18's FamilyGPT
    ),
    "mixtral": (
        lambda: MixtralForCausalLM(
            MixtralConfig(
                **LLAMA,
                num_key_value_heads=2,
                num_local_experts=4,
                num_experts_per_tok=2,
            )
        ),
        32,
    ),
    "mixtral-window": (
        lambda: MixtralForCausalLM(
            MixtralConfig(
                **LLAMA, num_key_value_heads=4, num_local_experts=3, sliding_window=6
            )
        ),
        32,
    ),
    "qwen3": (  # QK-norm, and heads 12 wide where 32 // 4 = 8
        lambda: Qwen3ForCausalLM(
            Qwen3Config(**LLAMA, num_key_value_heads=2, head_dim=12, rope_theta=1e6)
        ),
        32,
    ),
    "qwen3-tied": (
        lambda: Qwen3ForCausalLM(
            Qwen3Config(**LLAMA, num_key_value_heads=1, tie_word_embeddings=True)
        ),
        32,
    ),
    "qwen3-moe": (  # Qwen3-MoE's default: a softmax over all experts, no renormalising
        lambda: Qwen3MoeForCausalLM(
            Qwen3MoeConfig(
                **LLAMA,
                num_key_value_heads=2,
                head_dim=12,
                num_experts=4,
                num_experts_per_tok=2,
                moe_intermediate_size=16,
            )
        ),
        32,
    ),
    "qwen3-moe-normed": (  # norm_topk_prob, as Qwen3-30B-A3B: renormalised over the k
        lambda: Qwen3MoeForCausalLM(
            Qwen3MoeConfig(
                **LLAMA,
                num_key_value_heads=2,
                num_experts=4,
                num_experts_per_tok=3,
                moe_intermediate_size=16,
                norm_topk_prob=True,
            )
        ),
        32,
    ),
    "llama3-scaled": (
        lambda: LlamaForCausalLM(
            LlamaConfig(
                **LLAMA,
                rope_parameters=dict(
                    rope_type="llama3",
                    rope_theta=500000.0,
                    factor=8.0,
                    low_freq_factor=1.0,
                    high_freq_factor=4.0,
                    original_max_position_embeddings=8,  # 4 times exceeded
                ),
            )
        ),
        32,
    ),
    "llama-linear": (
        lambda: LlamaForCausalLM(
            LlamaConfig(**LLAMA, rope_parameters=dict(rope_type="linear", factor=4.0))
        ),
        32,
    ),
    "qwen2": (
        lambda: Qwen2ForCausalLM(
            Qwen2Config(
                **LLAMA | dict(rms_norm_eps=1e-6),
                num_key_value_heads=2,
                rope_theta=1e6,
                tie_word_embeddings=True,
            )
        ),
        32,
    ),
}


def randomize(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights, norm gains and biases too, so any mix-up shows in the logits."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if p.dim() > 1:
                p.copy_(0.2 * noise)
            else:  # a norm's gain near 1; a bias near 0
                p.copy_(0.1 * noise + (1.0 if "norm" in name or "ln" in name else 0.0))
    return model.eval()


def tokens(vocab_size: int = 61, T: int = 24, seed: int = 1) -> torch.Tensor:
    return torch.randint(
        vocab_size, (2, T), generator=torch.Generator().manual_seed(seed)
    )


def max_difference(ours: GPT, theirs: torch.nn.Module, idx: torch.Tensor) -> float:
    with torch.no_grad():
        return (ours(idx)[0] - theirs(idx, use_cache=False).logits).abs().max().item()


def hf_checkpoint(name: str, folder, **save_options) -> torch.nn.Module:
    """Save one of HF_MODELS, with random weights, into folder; return the model."""
    torch.manual_seed(0)
    hf = randomize(HF_MODELS[name][0]())
    hf.save_pretrained(folder, **save_options)
    return hf


@pytest.mark.parametrize("name", list(HF_MODELS))
def test_a_transformers_checkpoint_loads_with_the_same_logits(name, tmp_path):
    hf = hf_checkpoint(name, tmp_path)
    model = load_pretrained(tmp_path)
    assert isinstance(model, GPT) and not model.training
    assert model.config.block_size == HF_MODELS[name][1]
    assert model.num_params() == sum(p.numel() for p in hf.parameters())
    idx = tokens(T=model.config.block_size)
    assert max_difference(model, hf, idx) < TOL


def test_the_config_maps_every_option(tmp_path):
    hf_checkpoint("qwen2", tmp_path)
    c = load_pretrained(tmp_path).config
    assert (c.norm, c.position, c.ffn, c.bias, c.qkv_bias) == (
        "rmsnorm",
        "rope",
        "swiglu",
        False,
        True,
    )
    assert (c.n_kv_head, c.ffn_hidden, c.rope_theta, c.norm_eps, c.tie_weights) == (
        2,
        48,
        1e6,
        1e-6,
        True,
    )


def test_the_hubs_gpt2_file_layout_loads(tmp_path):
    """As openai-community/gpt2 stores it: no transformer. prefix, masks, no lm_head."""
    hf = hf_checkpoint("gpt2", tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    assert (
        "lm_head.weight" not in weights
    )  # tied: transformers saves the embedding once
    renamed = {k.removeprefix("transformer."): v for k, v in weights.items()}
    for i in range(2):  # the causal-mask buffers that old GPT-2 files carry
        renamed[f"h.{i}.attn.bias"] = torch.ones(1, 1, 32, 32).tril()
        renamed[f"h.{i}.attn.masked_bias"] = torch.tensor(-1e4)
    save_file(renamed, tmp_path / "model.safetensors", metadata={"format": "pt"})
    assert max_difference(load_pretrained(tmp_path), hf, tokens()) < TOL


def test_a_sharded_checkpoint_loads(tmp_path):
    hf = hf_checkpoint("llama-gqa", tmp_path, max_shard_size="20KB")
    shards = sorted(p.name for p in tmp_path.glob("model-*.safetensors"))
    assert len(shards) > 2 and (tmp_path / "model.safetensors.index.json").is_file()
    assert not (tmp_path / "model.safetensors").exists()
    assert max_difference(load_pretrained(tmp_path), hf, tokens()) < TOL


def test_a_bfloat16_checkpoint_loads_as_float32(tmp_path):
    hf = hf_checkpoint("llama-gqa", tmp_path / "bf16")
    hf.to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
    model = load_pretrained(tmp_path / "bf16")
    assert model.lm_head.weight.dtype == torch.float32
    torch.testing.assert_close(
        model.lm_head.weight, hf.lm_head.weight.float(), rtol=0, atol=0
    )


ROUND_TRIP = {  # gptcore configurations, and the transformers class that must load them
    "gpt2-tied": (dict(tie_weights=True), "GPT2LMHeadModel"),
    "gpt2-untied-ffn_hidden": (dict(ffn_hidden=40, norm_eps=1e-6), "GPT2LMHeadModel"),
    "llama-gqa": (
        dict(
            norm="rmsnorm",
            position="rope",
            ffn="swiglu",
            bias=False,
            n_kv_head=2,
            ffn_hidden=48,
            rope_theta=500000.0,
        ),
        "LlamaForCausalLM",
    ),
    "llama-tied": (
        dict(
            norm="rmsnorm", position="rope", ffn="swiglu", bias=False, tie_weights=True
        ),
        "LlamaForCausalLM",
    ),
    "qwen2": (
        dict(
            norm="rmsnorm",
            position="rope",
            ffn="swiglu",
            bias=False,
            qkv_bias=True,
            n_kv_head=1,
            norm_eps=1e-6,
            tie_weights=True,
        ),
        "Qwen2ForCausalLM",
    ),
}


PLAIN = {
    f.name for f in fields(GPTConfig)
}  # chapter 8's fields; the rest: chapter 13's


def resolved(c: GPTConfig) -> GPTConfig:
    """c with its None defaults spelled out, as a checkpoint's config.json has them."""
    if not isinstance(c, ModernConfig):
        return c
    return replace(
        c, ffn_hidden=c.ffn_hidden or 4 * c.n_embd, n_kv_head=c.n_kv_head or c.n_head
    )


def random_gpt(**options) -> GPT:
    """A random GPT, or a ModernGPT when an option of chapter 13 is given."""
    torch.manual_seed(0)
    shape = dict(vocab_size=61, block_size=32, n_layer=2, n_head=4, n_embd=32)
    if options.keys() <= PLAIN:
        return randomize(GPT(GPTConfig(**shape, **options)))
    return randomize(ModernGPT(ModernConfig(**shape, **options)))


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_save_pretrained_writes_what_transformers_loads(name, tmp_path):
    options, architecture = ROUND_TRIP[name]
    model = random_gpt(**options)
    folder = save_pretrained(model, tmp_path / "out")
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json",
        "model.safetensors",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "out"
    ]  # no temporary left behind
    hf = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert type(hf).__name__ == architecture
    assert max_difference(model, hf, tokens()) < TOL
    again = load_pretrained(folder)  # and back: the very same model
    assert resolved(again.config) == resolved(model.config)
    ours, theirs = model.state_dict(), again.state_dict()
    assert list(ours) == list(theirs) and all(
        torch.equal(ours[k], theirs[k]) for k in ours
    )
    assert (
        again.lm_head.weight is again.embed.token.weight
    ) == model.config.tie_weights


def test_save_pretrained_replaces_an_older_checkpoint(tmp_path):
    save_pretrained(random_gpt(), tmp_path)
    newer = random_gpt(tie_weights=True)
    save_pretrained(newer, tmp_path)
    assert resolved(load_pretrained(tmp_path).config) == resolved(newer.config)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json",
        "model.safetensors",
    ]


def test_the_all_options_gpt_equals_llama_for_causal_lm():
    """Item 2's check, in memory: every option on, the same weights, the same logits."""
    model = random_gpt(
        norm="rmsnorm",
        position="rope",
        ffn="swiglu",
        bias=False,
        n_kv_head=2,
        ffn_hidden=56,
        rope_theta=500000.0,
        norm_eps=1e-5,
    )
    config = LlamaConfig(
        **{
            k: v
            for k, v in hf_config(model.config).items()
            if k not in ("model_type", "architectures", "dtype")
        }
    )
    hf = LlamaForCausalLM(config).eval()
    hf.load_state_dict(
        hf_state_dict(model), strict=True
    )  # copies our weights into its own
    assert sum(p.numel() for p in hf.parameters()) == model.num_params()
    assert max_difference(model, hf, tokens(T=32)) < TOL
    with (
        torch.no_grad()
    ):  # and the check can fail: say, the rotation of the other layout
        q = hf.model.layers[0].self_attn.q_proj.weight
        q.copy_(
            q.view(4, 2, 4, 32).transpose(1, 2).reshape(32, 32)
        )  # halves -> interleaved
    assert max_difference(model, hf, tokens(T=32)) > 1e-2


# --- bad input: each error names the problem and the fix ---------------------------


def test_a_folder_without_config_json(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json in .*save_pretrained"):
        load_pretrained(tmp_path)


def test_a_folder_without_weights(tmp_path):
    hf_checkpoint("llama-gqa", tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no weights in .*model.safetensors"):
        load_pretrained(tmp_path)


def test_a_missing_path_or_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a hub name"):
        load_pretrained(tmp_path / "nothing here")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="is a file: give the folder"):
        load_pretrained(tmp_path / "model.safetensors")


def test_an_unsupported_model_type_lists_the_supported(tmp_path):
    hf_checkpoint("llama-gqa", tmp_path)
    edit_config(tmp_path, model_type="bert")
    with pytest.raises(
        ValueError, match="'bert' is not supported: .*gpt2, llama, mistral, qwen2"
    ):
        load_pretrained(tmp_path)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"model_type": "gpt2",',
            r"config.json is not valid JSON \(line 1 column 23\)",
        ),
        ("", r"config.json is not valid JSON \(line 1 column 1\)"),
        ('["gpt2"]', r"config.json holds a JSON list, not an object"),
        ('"gpt2"', r"config.json holds a JSON str, not an object"),
    ],
)
def test_a_config_json_that_is_not_a_json_object_is_named(tmp_path, text, message):
    hf_checkpoint("gpt2", tmp_path)
    (tmp_path / "config.json").write_text(text)
    with pytest.raises(ValueError, match=message) as caught:
        load_pretrained(tmp_path)
    assert str(tmp_path / "config.json") in str(caught.value)
    assert "re-download it" in str(caught.value)


def edit_config(folder, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(config | changes))


def test_a_shape_that_disagrees_with_the_config_is_named(tmp_path):
    hf_checkpoint("llama-gqa", tmp_path)
    edit_config(tmp_path, intermediate_size=64)
    message = (
        r"tensor model.layers.0.mlp.gate_proj.weight in model.safetensors has shape "
        r"\(48, 32\), but config.json implies \(64, 32\)"
    )
    with pytest.raises(ValueError, match=message):
        load_pretrained(tmp_path)


def test_missing_and_extra_tensors_are_named(tmp_path):
    hf_checkpoint("gpt2", tmp_path)
    edit_config(tmp_path, n_layer=3)
    with pytest.raises(
        ValueError, match=r"lacks 12 tensors .* such as transformer.h.2"
    ):
        load_pretrained(tmp_path)
    edit_config(tmp_path, n_layer=1)
    with pytest.raises(ValueError, match=r"no place for, such as transformer.h.1"):
        load_pretrained(tmp_path)


def test_pickle_weights_are_refused(tmp_path):
    hf = hf_checkpoint("llama-gqa", tmp_path)
    (tmp_path / "model.safetensors").unlink()
    torch.save(
        hf.state_dict(), tmp_path / "pytorch_model.bin"
    )  # never unpickled by the test
    with pytest.raises(
        ValueError,
        match=r"only as pickles \(pytorch_model.bin\).*refuses.*"
        r"weights_only=True.*save_pretrained",
    ):
        load_pretrained(tmp_path)


def test_a_missing_shard_is_named(tmp_path):
    hf_checkpoint("llama-gqa", tmp_path, max_shard_size="20KB")
    next(tmp_path.glob("model-*.safetensors")).unlink()
    with pytest.raises(
        FileNotFoundError, match="lists shards that are not in the folder"
    ):
        load_pretrained(tmp_path)


@pytest.mark.parametrize(
    "changes, message",
    [
        (
            dict(
                rope_parameters={"rope_type": "yarn", "factor": 4.0, "rope_theta": 1e4}
            ),
            "rope_type must be one of 'linear', 'llama3', got 'yarn'",
        ),
        (
            dict(rope_parameters={"rope_type": "llama3", "factor": 8.0}),
            "RoPE scaling 'llama3' needs 'low_freq_factor'",
        ),
        (
            dict(use_sliding_window=True),
            "use_sliding_window=True \\(windowed and full layers\\) is not supported",
        ),
        (dict(attention_bias=True), "attention_bias=True is not supported"),
        (dict(hidden_act="gelu"), "hidden_act='gelu' is not supported"),
    ],
)
def test_settings_gptcore_does_not_compute_are_refused(tmp_path, changes, message):
    hf_checkpoint("llama-gqa", tmp_path)
    edit_config(tmp_path, **changes)
    with pytest.raises(ValueError, match=message):
        load_pretrained(tmp_path)


def test_save_pretrained_refuses_a_model_transformers_has_no_class_for(tmp_path):
    with pytest.raises(ValueError, match="no transformers model computes this config"):
        save_pretrained(
            random_gpt(position="rope"), tmp_path
        )  # GPT-2 with RoPE: neither


# --- hub names: through huggingface_hub's cache, never downloaded in a test --------


def test_a_hub_name_not_in_the_cache_while_offline_says_how_to_download(
    tmp_path, monkeypatch
):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    with pytest.raises(
        FileNotFoundError, match="hf download someone/tiny-llama --include"
    ):
        load_pretrained("someone/tiny-llama")


def test_offline_by_environment_variable_in_a_fresh_process(tmp_path):
    code = (
        "from gptcore.pretrained import load_pretrained\n"
        "try:\n    load_pretrained('openai-community/gpt2')\n"
        "except FileNotFoundError as error:\n    print(error)\n"
    )
    env = os.environ | dict(
        HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path), PYTHONPATH=os.pathsep.join(sys.path)
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert (
        "nor in the Hugging Face cache" in out
        and "hf download openai-community/gpt2" in out
    )


def test_a_hub_name_uses_the_snapshot_of_config_and_safetensors_only(
    tmp_path, monkeypatch
):
    import huggingface_hub

    hf = hf_checkpoint("qwen2", tmp_path)
    calls = []

    def snapshot(repo_id, allow_patterns):
        calls.append((repo_id, allow_patterns))
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot)
    model = load_pretrained("Qwen/tiny")
    assert calls == [("Qwen/tiny", ["config.json", "model*.safetensors*"])]
    assert max_difference(model, hf, tokens()) < TOL


def test_importing_gptcore_pretrained_imports_neither_transformers_nor_the_hub():
    code = (
        "import sys, gptcore.pretrained; "
        "assert not {'transformers', 'huggingface_hub'} & set(sys.modules), sys.modules"
    )
    env = os.environ | dict(PYTHONPATH=os.pathsep.join(sys.path))
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_the_course_checkpoint_still_loads_strictly():
    path = os.path.join(
        os.path.dirname(__file__), "..", "..", "checkpoints", "course.pt"
    )
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    saved = checkpoint["config"]  # chapter 8's fields and chapter 13's, at GPT-2's
    plain = GPTConfig(**{k: v for k, v in saved.items() if k in PLAIN})
    assert ModernConfig(**saved) == ModernConfig(**vars(plain))  # options: defaults
    model = GPT(plain)
    model.load_state_dict(checkpoint["model"], strict=True)
    modern = ModernGPT(ModernConfig(**saved))  # the same tensor names, too
    modern.load_state_dict(checkpoint["model"], strict=True)


def test_a_mixtral_checkpoint_loads_as_chapter_18s_model_and_caches(tmp_path):
    hf = hf_checkpoint("mixtral", tmp_path)
    model = load_pretrained(tmp_path)
    assert isinstance(model, MoEGPT)
    c = model.config
    assert (c.n_experts, c.top_k, c.routing, c.ffn_hidden) == (4, 2, "chosen", 48)
    idx = tokens(T=32)
    with torch.no_grad():
        whole, _ = model(idx)
        cache = KVCache(c.n_layer)
        parts = [model(idx[:, :20], cache=cache)[0]]
        parts += [model(idx[:, t : t + 1], cache=cache)[0] for t in range(20, 32)]
        theirs = hf(idx, use_cache=False).logits
    assert (torch.cat(parts, 1) - theirs).abs().max() < TOL
    assert (whole - theirs).abs().max() < TOL


def random_moe(**options) -> MoEGPT:
    torch.manual_seed(0)
    config = MoEConfig(
        vocab_size=61,
        block_size=32,
        n_layer=2,
        n_head=4,
        n_embd=32,
        norm="rmsnorm",
        position="rope",
        ffn="swiglu",
        bias=False,
        n_kv_head=2,
        ffn_hidden=40,
        n_experts=3,
        top_k=2,
        **options,
    )
    return randomize(MoEGPT(config))


def test_save_pretrained_writes_a_mixtral_and_reads_it_back(tmp_path):
    model = random_moe(aux_loss_coef=0.02)
    folder = save_pretrained(model, tmp_path / "out")
    hf = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert type(hf).__name__ == "MixtralForCausalLM"
    assert max_difference(model, hf, tokens()) < TOL
    again = load_pretrained(folder)
    assert again.config == model.config
    ours, theirs = model.state_dict(), again.state_dict()
    assert list(ours) == list(theirs)
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)


def test_a_mixture_no_transformers_class_computes_is_refused(tmp_path):
    with pytest.raises(ValueError, match="Mixtral is Llama's with experts routed"):
        save_pretrained(random_moe(routing="all"), tmp_path)


@pytest.mark.parametrize("damage", ["missing", "shape"])
def test_a_damaged_expert_tensor_is_named(damage, tmp_path):
    hf_checkpoint("mixtral", tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    name = "model.layers.1.block_sparse_moe.experts.3.w2.weight"
    if damage == "missing":
        del weights[name]
        words = f"lacks 1 tensors .* such as {name}"
    else:
        weights[name] = weights[name][:, :-1].contiguous()
        words = f"tensor {name} .* has shape \\(32, 47\\).* implies \\(32, 48\\)"
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=words):
        load_pretrained(tmp_path)


CHAPTER_18 = {  # checkpoints that load as a chapter 18 model: name -> its class
    "llama3-scaled": "ScaledRopeGPT",
    "llama-linear": "ScaledRopeGPT",
    "qwen3": "FamilyGPT",
    "qwen3-tied": "FamilyGPT",
    "qwen3-moe": "FamilyMoEGPT",
    "qwen3-moe-normed": "FamilyMoEGPT",
    "mistral-window": "FamilyGPT",
    "mixtral-window": "FamilyMoEGPT",
}


@pytest.mark.parametrize("name", list(CHAPTER_18))
def test_a_chapter_18_family_loads_caches_and_round_trips(name, tmp_path):
    hf = hf_checkpoint(name, tmp_path)
    model = load_pretrained(tmp_path)
    assert type(model).__name__ == CHAPTER_18[name]
    idx = tokens(T=32)  # past every window (6) and every first context (8)
    with torch.no_grad():
        cache = KVCache(model.config.n_layer)
        parts = [model(idx[:, :9], cache=cache)[0]]
        parts += [model(idx[:, t : t + 1], cache=cache)[0] for t in range(9, 32)]
        theirs = hf(idx, use_cache=False).logits
    assert (torch.cat(parts, 1) - theirs).abs().max() < TOL
    folder = save_pretrained(model, tmp_path / "back")
    again = AutoModelForCausalLM.from_pretrained(folder).eval()
    assert max_difference(model, again, idx) < TOL
    assert load_pretrained(folder).config == model.config


@pytest.mark.parametrize(
    "name, tensor",
    [
        ("qwen3", "model.layers.1.self_attn.k_norm.weight"),
        ("qwen3-moe", "model.layers.0.mlp.experts.2.down_proj.weight"),
    ],
)
def test_a_missing_qk_norm_or_expert_tensor_is_named(name, tensor, tmp_path):
    hf_checkpoint(name, tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    del weights[tensor]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ValueError, match=f"lacks 1 tensors .* such as {tensor}"):
        load_pretrained(tmp_path)


def test_the_window_matters_past_it(tmp_path):
    hf = hf_checkpoint("mistral-window", tmp_path)
    edit_config(tmp_path, sliding_window=None)  # the same weights, causal attention
    assert max_difference(load_pretrained(tmp_path), hf, tokens(T=32)) > 100 * TOL


def test_a_qwen3_with_rope_scaling_is_refused(tmp_path):
    hf_checkpoint("qwen3", tmp_path)
    edit_config(tmp_path, rope_parameters=dict(rope_type="linear", factor=2.0))
    with pytest.raises(ValueError, match="a qwen3 with RoPE scaling and a head_dim"):
        load_pretrained(tmp_path)
