"""Real checkpoints: Hugging Face folders (config.json + safetensors), in and out."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/13_todays_models.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/13_todays_models.ipynb 29
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from gptcore.data import write_atomically
from gptcore.gpt2 import gpt2_hf_settings, gpt2_state_dict
from gptcore.model import GPT, GPTConfig
from gptcore.modern import ModernConfig, ModernGPT

SUPPORTED_MODEL_TYPES = (
    "gpt2",
    "llama",
    "mistral",
    "qwen2",
    "mixtral",
    "qwen3",
    "qwen3_moe",
)
_HUB_FILES = ["config.json", "model*.safetensors*"]  # no pickles, nor other formats
_BUFFERS = (".attn.bias", ".attn.masked_bias", ".rotary_emb.inv_freq")  # not weights
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")  # gpt2, openai-community/gpt2


def _require(hf: dict, **settings: object) -> None:
    """A ValueError naming the first setting in config.json that gptcore lacks."""
    for key, want in settings.items():
        if hf.get(key, want) != want:  # absent: transformers' default, which is `want`
            raise ValueError(
                f"{hf['model_type']} setting {key}={hf[key]!r} is not "
                f"supported: gptcore computes {key}={want!r} only"
            )


def _gpt2_config(hf: dict) -> GPTConfig:
    """A GPT-2 config.json's config: chapter 8's GPTConfig unless its eps or hidden
    width differ from GPT-2's."""
    _require(
        hf,
        activation_function="gelu_new",
        scale_attn_weights=True,
        scale_attn_by_inverse_layer_idx=False,
        add_cross_attention=False,
    )
    shape = dict(
        vocab_size=hf["vocab_size"],
        block_size=hf["n_positions"],
        n_layer=hf["n_layer"],
        n_head=hf["n_head"],
        n_embd=hf["n_embd"],
        tie_weights=hf.get("tie_word_embeddings", True),
    )
    eps, inner = hf.get("layer_norm_epsilon", 1e-5), hf.get("n_inner")
    if (eps, inner) == (1e-5, None):  # chapter 8's GPT exactly
        return GPTConfig(**shape)
    return ModernConfig(**shape, norm_eps=eps, ffn_hidden=inner)


def _llama_config(hf: dict, kind: str) -> ModernConfig:
    """A Llama, Mistral, Qwen2, Qwen3 or Mixtral config.json's ModernConfig."""
    _require(hf, hidden_act="silu", attention_bias=False, mlp_bias=False)
    rope = hf.get("rope_scaling") or hf.get("rope_parameters") or {}
    rope_type = rope.get("rope_type", rope.get("type", "default"))
    if rope.get("partial_rotary_factor", 1.0) != 1.0:
        raise ValueError(
            f"RoPE on part of each head ({rope}) is not supported: "
            "gptcore turns every pair, and would give wrong logits"
        )
    if hf.get("use_sliding_window", False):
        raise ValueError(
            f"a {kind} with use_sliding_window=True (windowed and full layers) is not "
            "supported: gptcore windows every layer or none"
        )
    n_embd, n_head = hf["hidden_size"], hf["num_attention_heads"]
    theta = rope.get("rope_theta", hf.get("rope_theta", 10000.0))
    config = ModernConfig(
        vocab_size=hf["vocab_size"],
        block_size=hf.get("max_position_embeddings", 2048),
        n_layer=hf["num_hidden_layers"],
        n_head=n_head,
        n_embd=n_embd,
        bias=False,
        qkv_bias=True if kind == "qwen2" else None,
        tie_weights=hf.get("tie_word_embeddings", False),
        norm="rmsnorm",
        norm_eps=hf.get("rms_norm_eps", 1e-6),
        position="rope",
        rope_theta=float(theta),
        ffn="swiglu",
        ffn_hidden=hf["intermediate_size"],
        n_kv_head=hf.get("num_key_value_heads") or n_head,
    )
    config = config if rope_type == "default" else _scaled_rope_config(rope, config)
    return _family_config(hf, kind, config)


def _scaled_rope_config(rope: dict, config: ModernConfig) -> ModernConfig:
    """config with RoPE scaled as rope says (Llama 3.1), chapter 18's ScaledRopeConfig;
    a ValueError names a scaling that gptcore does not compute."""
    from gptcore.rope_scaling import ScaledRopeConfig  # chapter 18: only when scaled

    scaling = {key: value for key, value in rope.items() if key != "rope_theta"}
    return ScaledRopeConfig(**vars(config), rope_scaling=scaling)


def _family_config(hf: dict, kind: str, config: ModernConfig) -> ModernConfig:
    """config with the changes of chapter 18's FamilyConfig that config.json asks
    for: a head_dim of its own, QK-norm (Qwen3), a window shorter than the context
    (Mistral)."""
    head_dim = hf.get("head_dim")
    if head_dim == config.n_embd // config.n_head:
        head_dim = None  # chapter 13's heads
    window = hf.get("sliding_window") if kind in ("mistral", "mixtral") else None
    if window is not None and window >= config.block_size:
        window = None  # the window holds every position: causal attention
    qk_norm = kind in ("qwen3", "qwen3_moe")
    if (head_dim, qk_norm, window) == (None, False, None):
        return config
    from gptcore.families import FamilyConfig  # chapter 18: only for these changes

    if hasattr(config, "rope_scaling"):
        raise ValueError(
            f"a {kind} with RoPE scaling and a head_dim, QK-norm or sliding window is "
            "not supported by gptcore"
        )
    return FamilyConfig(
        **vars(config), head_dim=head_dim, qk_norm=qk_norm, window=window
    )


def _experts_config(hf: dict, kind: str, config: ModernConfig) -> ModernConfig:
    """Mixtral's or Qwen3-MoE's config: a Llama's or Qwen3's, with chapter 18's
    experts in each block."""
    from gptcore.experts import MoEConfig  # chapter 18: imported only for experts

    if hasattr(config, "rope_scaling"):
        raise ValueError(f"a {kind} with RoPE scaling is not supported by gptcore")
    _require(hf, decoder_sparse_step=1, mlp_only_layers=[])  # experts in every block
    experts = dict(
        n_experts=hf.get("num_experts") or hf["num_local_experts"],
        top_k=hf["num_experts_per_tok"],
        expert_hidden=hf.get("moe_intermediate_size"),  # Qwen3-MoE's expert width
        # Mixtral's: a softmax over the chosen experts' scores; Qwen3-MoE's: over all,
        # renormalised over the chosen (the same) only with norm_topk_prob
        routing="chosen" if hf.get("norm_topk_prob", kind == "mixtral") else "all",
        aux_loss_coef=hf.get("router_aux_loss_coef", 0.001),
    )
    if hasattr(config, "qk_norm"):  # chapter 18's FamilyConfig: Qwen3's attention too
        from gptcore.families import FamilyMoEConfig  # chapter 18

        return FamilyMoEConfig(**vars(config), **experts)
    return MoEConfig(**vars(config), **experts)


def config_from_hf(hf: dict) -> GPTConfig:
    """The config of a transformers config.json: a GPTConfig for a plain GPT-2, else a
    ModernConfig; a ValueError for what gptcore lacks."""
    kind = hf.get("model_type")
    if kind not in SUPPORTED_MODEL_TYPES:
        raise ValueError(
            f"model_type {kind!r} is not supported: gptcore loads "
            f"{', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    try:
        if kind == "gpt2":
            return _gpt2_config(hf)
        config = _llama_config(hf, kind)
        if kind in ("mixtral", "qwen3_moe"):
            return _experts_config(hf, kind, config)
        return config
    except KeyError as missing:
        raise ValueError(
            f"config.json of a {kind} model has no {missing} setting"
        ) from None


def hf_model_type(config: GPTConfig) -> str:
    """The transformers model_type computing what the model of config computes, or a
    ValueError."""
    c = config
    if not isinstance(c, ModernConfig):
        c = ModernConfig(**vars(c))  # chapter 8's GPT: every option at GPT-2's choice
    gpt2_parts = (c.norm, c.position, c.ffn) == ("layernorm", "learned", "gelu")
    same_heads = c.n_kv_head in (None, c.n_head) and c.qkv_bias in (None, True)
    if gpt2_parts and c.bias and same_heads:
        return "gpt2"
    llama_parts = (c.norm, c.position, c.ffn, c.bias) == (
        "rmsnorm",
        "rope",
        "swiglu",
        False,
    )
    experts = getattr(c, "routing", None)  # chapter 18's MoEConfig: experts, routed
    qk_norm = getattr(c, "qk_norm", False)  # chapter 18's FamilyConfig: QK-norm,
    window = getattr(c, "window", None)  # a sliding window, and a head_dim
    plain = getattr(c, "head_dim", None) is None and not (qk_norm or window)
    if llama_parts and not c.qkv_bias and not (qk_norm and window):
        if experts == "chosen" and not qk_norm:
            return "mixtral"
        if experts and qk_norm:
            return "qwen3_moe"
        if experts is None:
            return "qwen3" if qk_norm else "mistral" if window else "llama"
    if llama_parts and c.qkv_bias and experts is None and plain:
        return "qwen2"
    raise ValueError(
        "no transformers model computes this config: GPT-2 needs bias=True and "
        "the default norm, position and ffn; Llama needs "
        "norm='rmsnorm', position='rope', ffn='swiglu', bias=False "
        "(and qkv_bias=True: Qwen2; a window: Mistral; qk_norm: Qwen3); Mixtral is "
        "Llama's with experts routed 'chosen', no qkv bias and no qk_norm; "
        "Qwen3-MoE is Qwen3's with experts"
    )


def _ffn_tensors(h: str, ffn: torch.nn.Module, kind: str) -> dict[str, torch.Tensor]:
    """A block's feed-forward weights under transformers' names (h: the block's
    prefix): a SwiGLU's, or Mixtral's or Qwen3-MoE's router and experts (chapter
    18's)."""
    if not hasattr(ffn, "experts"):
        gate, up = ffn.fc.weight.chunk(2)  # fc is [gate | up]
        return {
            h + "mlp.gate_proj.weight": gate,
            h + "mlp.up_proj.weight": up,
            h + "mlp.down_proj.weight": ffn.proj.weight,
        }
    moe, names = h + "mlp.", ("gate_proj", "up_proj", "down_proj")  # Qwen3-MoE's
    if kind == "mixtral":  # w1 gate, w3 up, w2 down
        moe, names = h + "block_sparse_moe.", ("w1", "w3", "w2")
    sd = {moe + "gate.weight": ffn.router.gate.weight}
    for e, expert in enumerate(ffn.experts):  # each a SwiGLU
        gate, up = expert.fc.weight.chunk(2)
        for name, w in zip(names, (gate, up, expert.proj.weight), strict=True):
            sd[f"{moe}experts.{e}.{name}.weight"] = w
    return sd


def hf_state_dict(model: GPT) -> dict[str, torch.Tensor]:
    """model's weights under transformers' names: views, so copy_ into them loads."""
    c, kind = model.config, hf_model_type(model.config)
    if kind == "gpt2":
        sd = gpt2_state_dict(model)
    else:
        sd = {"model.embed_tokens.weight": model.embed.token.weight}
        for i, b in enumerate(model.blocks):
            h, a = f"model.layers.{i}.", f"model.layers.{i}.self_attn."
            kv = b.attn.kv_width  # q, k and v in qkv; q n_head heads wide
            rows = [b.attn.qkv.weight.size(0) - 2 * kv, kv, kv]
            for part, w in zip("qkv", b.attn.qkv.weight.split(rows), strict=True):
                sd[f"{a}{part}_proj.weight"] = w
            if b.attn.qkv.bias is not None:  # Qwen2
                for part, w in zip("qkv", b.attn.qkv.bias.split(rows), strict=True):
                    sd[f"{a}{part}_proj.bias"] = w
            if hasattr(b.attn, "q_norm"):  # chapter 18's QK-norm (Qwen3)
                sd[a + "q_norm.weight"] = b.attn.q_norm.weight
                sd[a + "k_norm.weight"] = b.attn.k_norm.weight
            sd |= {
                a + "o_proj.weight": b.attn.proj.weight,
                h + "input_layernorm.weight": b.ln1.weight,
                h + "post_attention_layernorm.weight": b.ln2.weight,
            } | _ffn_tensors(h, b.ffn, kind)
        sd |= {
            "model.norm.weight": model.ln_f.weight,
            "lm_head.weight": model.lm_head.weight,
        }
    if c.tie_weights:
        del sd["lm_head.weight"]  # the token embedding itself; transformers ties it
    return sd


_ARCHITECTURES = {
    "llama": "LlamaForCausalLM",
    "qwen2": "Qwen2ForCausalLM",
    "mixtral": "MixtralForCausalLM",
    "mistral": "MistralForCausalLM",
    "qwen3": "Qwen3ForCausalLM",
    "qwen3_moe": "Qwen3MoeForCausalLM",
}


def hf_config(config: GPTConfig, dtype: torch.dtype = torch.float32) -> dict:
    """The config.json from which transformers builds the model that GPT(config) is."""
    c, kind = config, hf_model_type(config)
    shared = dict(
        model_type=kind,
        vocab_size=c.vocab_size,
        tie_word_embeddings=c.tie_weights,
        dtype=str(dtype).removeprefix("torch."),
        bos_token_id=None,
        eos_token_id=None,
    )
    if kind == "gpt2":
        gpt2 = gpt2_hf_settings(c) | dict(architectures=["GPT2LMHeadModel"])
        if isinstance(c, ModernConfig):  # a GPT-2 with another eps or hidden width
            gpt2 |= dict(layer_norm_epsilon=c.norm_eps, n_inner=c.ffn_hidden)
        return shared | gpt2
    llama = dict(attention_bias=False, mlp_bias=False) if kind == "llama" else {}
    window = getattr(c, "window", None)  # chapter 18's sliding window, or None
    if kind in ("mistral", "mixtral"):
        llama = dict(sliding_window=window)
    if kind in ("qwen3", "qwen3_moe"):
        llama = dict(attention_bias=False, use_sliding_window=False)
    if kind == "mixtral":  # chapter 18's experts: an expert's width, not ffn_hidden
        llama |= dict(num_local_experts=c.n_experts, num_experts_per_tok=c.top_k)
    if kind == "qwen3_moe":  # experts in every block, each expert_hidden wide
        llama |= dict(
            num_experts=c.n_experts,
            num_experts_per_tok=c.top_k,
            moe_intermediate_size=c.expert_hidden or c.ffn_hidden or 4 * c.n_embd,
            norm_topk_prob=c.routing == "chosen",
            decoder_sparse_step=1,
            mlp_only_layers=[],
        )
    if kind in ("mixtral", "qwen3_moe"):
        llama["router_aux_loss_coef"] = c.aux_loss_coef
    expert_width = getattr(c, "expert_hidden", None) if kind == "mixtral" else None
    return (
        shared
        | llama
        | dict(
            architectures=[_ARCHITECTURES[kind]],
            hidden_size=c.n_embd,
            intermediate_size=expert_width or c.ffn_hidden or 4 * c.n_embd,
            num_hidden_layers=c.n_layer,
            num_attention_heads=c.n_head,
            num_key_value_heads=c.n_kv_head or c.n_head,
            head_dim=getattr(c, "head_dim", None) or c.n_embd // c.n_head,
            max_position_embeddings=c.block_size,
            rms_norm_eps=c.norm_eps,
            hidden_act="silu",
            rope_theta=c.rope_theta,  # the key of transformers < 5, and:
            rope_parameters={"rope_type": "default", "rope_theta": c.rope_theta}
            | (getattr(c, "rope_scaling", None) or {}),  # chapter 18's scaling
        )
    )


def _download(name: str) -> Path:
    """The local snapshot of hub repository `name` (config and safetensors only)."""
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import (
            GatedRepoError,
            LocalEntryNotFoundError,
            RepositoryNotFoundError,
        )
    except ImportError:
        raise ImportError(
            f"{name!r} is not a local folder; to fetch it from the "
            "Hugging Face hub, pip install huggingface_hub"
        ) from None
    try:
        return Path(snapshot_download(name, allow_patterns=_HUB_FILES))
    except GatedRepoError as error:
        raise PermissionError(
            f"{name} is gated: accept its terms on "
            f"https://huggingface.co/{name}, then log in with "
            "`hf auth login`"
        ) from error
    except RepositoryNotFoundError as error:
        raise FileNotFoundError(
            f"{name!r} is not a local folder, nor a repository on "
            "the Hugging Face hub (a private one needs `hf auth "
            "login`)"
        ) from error
    except LocalEntryNotFoundError as error:
        raise FileNotFoundError(
            f"{name!r} is not a local folder, nor in the Hugging Face cache, and the "
            "hub cannot be reached (offline, or HF_HUB_OFFLINE=1). Download it once "
            f"online: hf download {name} --include config.json 'model*.safetensors*' "
            "(older huggingface_hub: huggingface-cli download); then it loads offline"
        ) from error


def _find_folder(name_or_path: str | os.PathLike) -> Path:
    """The checkpoint's folder: name_or_path itself, or the hub repository it names."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise FileNotFoundError(
            f"{path} is a file: give the folder that holds "
            "config.json and model.safetensors"
        )
    if not _HUB_NAME.fullmatch(str(name_or_path)):
        raise FileNotFoundError(
            f"no folder {path}, and {str(name_or_path)!r} is not a "
            "hub name such as 'openai-community/gpt2'"
        )
    return _download(str(name_or_path))


def _read_json(path: Path) -> dict:
    """The JSON object that path holds; else a ValueError that names the file."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON (line {error.lineno} column {error.colno}): "
            f"{error.msg}; the file is damaged or incomplete: re-download it"
        ) from None
    except UnicodeDecodeError:
        raise ValueError(
            f"{path} is not UTF-8 text, so not JSON: the file is damaged, or "
            "another file saved under its name: re-download it"
        ) from None
    if not isinstance(value, dict):
        raise ValueError(
            f"{path} holds a JSON {type(value).__name__}, not an object of "
            "settings: the file is damaged, or another file saved under its "
            "name: re-download it"
        )
    return value


def _weight_files(folder: Path) -> list[Path]:
    """A checkpoint folder's safetensors files; a clear error if none, or pickles."""
    if (folder / "model.safetensors").is_file():
        return [folder / "model.safetensors"]
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = _read_json(index)["weight_map"].values()
        files = sorted({folder / shard for shard in shards})
        if missing := [f.name for f in files if not f.is_file()]:
            raise FileNotFoundError(
                f"{index} lists shards that are not in the folder: "
                f"{', '.join(missing)}; download them again"
            )
        return files
    if pickles := sorted(p.name for p in folder.glob("pytorch_model*.bin")):
        raise ValueError(
            f"{folder} holds its weights only as pickles ({', '.join(pickles)}), which "
            "can run code when loaded, so gptcore refuses them. If you trust their "
            "source, convert them once with transformers, which reads them "
            "weights_only=True: "
            "AutoModelForCausalLM.from_pretrained(folder).save_pretrained(new_folder), "
            "then load new_folder"
        )
    raise FileNotFoundError(
        f"no weights in {folder}: expected model.safetensors, or "
        "model.safetensors.index.json and its shards, beside "
        "config.json (save_pretrained writes both; a hub "
        "repository with only pytorch_model.bin needs converting)"
    )


def _stored_tensors(
    files: list[Path], kind: str, tied: bool
) -> dict[str, tuple[Path, str, tuple[int, ...]]]:
    """transformers name -> (file, name in it, shape) of each weight; no data read."""
    prefix = "transformer." if kind == "gpt2" else "model."
    embedding = prefix + ("wte.weight" if kind == "gpt2" else "embed_tokens.weight")
    found = {}
    for file in files:
        with safe_open(file, framework="pt") as f:
            for stored in f.keys():
                if stored.endswith(_BUFFERS):
                    continue
                name = stored  # some lack the prefix: the hub's GPT-2 has "h.0.attn..."
                if not name.startswith((prefix, "lm_head.")):
                    name = prefix + name
                found[name] = (file, stored, tuple(f.get_slice(stored).get_shape()))
    if tied and "lm_head.weight" in found:  # one tied matrix, saved under either name
        head = found.pop("lm_head.weight")
        found.setdefault(embedding, head)
    return found


def _model_class(config: GPTConfig) -> type[GPT]:
    """The class that builds config's model: GPT, ModernGPT, or chapter 18's."""
    if hasattr(config, "n_experts") and hasattr(config, "qk_norm"):  # Qwen3-MoE
        from gptcore.families import FamilyMoEGPT  # chapter 18: experts, QK-norm

        return FamilyMoEGPT
    if hasattr(config, "n_experts"):  # chapter 18's MoEConfig (Mixtral)
        from gptcore.experts import MoEGPT  # chapter 18: imported only for experts

        return MoEGPT
    if hasattr(config, "rope_scaling"):  # chapter 18's ScaledRopeConfig (Llama 3.1)
        from gptcore.rope_scaling import ScaledRopeGPT  # chapter 18: only then

        return ScaledRopeGPT
    if hasattr(config, "qk_norm"):  # chapter 18's FamilyConfig (Qwen3, Mistral)
        from gptcore.families import FamilyGPT  # chapter 18: only then

        return FamilyGPT
    return ModernGPT if isinstance(config, ModernConfig) else GPT


def load_pretrained(
    name_or_path: str | os.PathLike,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> GPT:
    """A GPT (a ModernGPT for today's models) in eval mode holding a Hugging Face
    checkpoint: a folder, or a hub name."""
    folder = _find_folder(name_or_path)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"no config.json in {folder}: a checkpoint folder "
            "holds config.json and model.safetensors, as "
            "save_pretrained writes them"
        )
    hf = _read_json(folder / "config.json")
    config = config_from_hf(hf)
    files = _weight_files(folder)
    with torch.device("meta"):  # shapes only: no time spent on a random initialisation
        model = _model_class(config)(config)
    model = model.to(dtype).to_empty(device=device)  # uninitialised, filled below
    if config.tie_weights:  # to_empty gave the two names a tensor each: one again
        model.lm_head.weight = model.embed.token.weight
    targets = hf_state_dict(model)
    found = _stored_tensors(files, hf["model_type"], config.tie_weights)
    if missing := [name for name in targets if name not in found]:
        raise ValueError(
            f"{folder} lacks {len(missing)} tensors that its config.json "
            f"implies, such as {missing[0]}: incomplete, or another "
            "model's weights"
        )
    if extra := sorted(found.keys() - targets.keys()):
        raise ValueError(
            f"{folder} holds tensors gptcore has no place for, such as "
            f"{extra[0]}: a part of this model that gptcore lacks"
        )
    for name, target in targets.items():
        file, stored, shape = found[name]
        if shape != tuple(target.shape):
            raise ValueError(
                f"tensor {stored} in {file.name} has shape {shape}, but "
                f"config.json implies {tuple(target.shape)}: the weights "
                "and config.json come from different models"
            )
    with torch.no_grad():
        for file in files:
            with safe_open(file, framework="pt") as f:
                for name, (where, stored, _) in found.items():
                    if where == file:
                        targets[name].copy_(f.get_tensor(stored))  # into our tensors
    return model.eval()


def save_pretrained(model: GPT, folder: str | os.PathLike) -> Path:
    """Write model as config.json + model.safetensors: a folder transformers loads."""
    config = hf_config(model.config, model.lm_head.weight.dtype)
    weights = {
        name: t.detach().cpu().clone(memory_format=torch.contiguous_format)
        for name, t in hf_state_dict(model).items()
    }  # each its own, contiguous
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # each file written beside its name, then swapped in: readers see old or new, whole
    write_atomically(
        folder / "model.safetensors",
        lambda tmp: save_file(weights, tmp, metadata={"format": "pt"}),
    )
    text = json.dumps(config, indent=2) + "\n"
    write_atomically(folder / "config.json", lambda tmp: tmp.write_text(text))
    return folder


# The public names above, computed by scripts/export.py.
__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "config_from_hf",
    "hf_model_type",
    "hf_state_dict",
    "hf_config",
    "load_pretrained",
    "save_pretrained",
]
