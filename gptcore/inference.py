"""The cost of answering: what a KV cache holds in bytes, weights quantized to int8 and
int4 from scratch, and speculative decoding with a small draft model."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/19_cost_of_answering.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/19_cost_of_answering.ipynb 4
import torch
import torch.nn as nn
import torch.nn.functional as F

from gptcore.checks import (
    check_count,
    check_number,
    check_positive_int,
    check_token_ids,
)
from gptcore.generation import KVCache
from gptcore.model import GPT


# %% chapters/19_cost_of_answering.ipynb 5
def kv_cache_bytes(
    n_layer: int,
    n_kv_head: int,
    head_size: int,
    tokens: int,
    bytes_per_value: int = 4,
    window: int | None = None,
) -> int:
    """Bytes of keys and values that a sequence of `tokens` keeps: 2 tensors per layer,
    n_kv_head heads of head_size each per token (only the last `window` with a sliding
    window)."""
    kept = tokens if window is None else min(tokens, window)
    return 2 * n_layer * n_kv_head * head_size * kept * bytes_per_value


def latent_cache_bytes(
    n_layer: int,
    latent_size: int,
    rope_size: int,
    tokens: int,
    bytes_per_value: int = 2,
) -> int:
    """Bytes that multi-head latent attention (DeepSeek-V2) keeps: per token and layer
    one compressed latent of latent_size and one shared rotary key of rope_size."""
    return n_layer * (latent_size + rope_size) * tokens * bytes_per_value


def cache_tensor_bytes(cache: KVCache) -> int:
    """Bytes of the key and value tensors that a KVCache holds now."""
    return sum(
        t.numel() * t.element_size()
        for layer in cache.layers
        if layer.keys is not None
        for t in (layer.keys, layer.values)
    )


# %% chapters/19_cost_of_answering.ipynb 13
def _check_group(width: int, bits: int, group_size: int | None) -> int:
    """The group size to use for a row of `width` weights, or a ValueError saying why
    not."""
    if bits not in (8, 4):
        raise ValueError(f"bits must be 8 or 4, got {bits!r}")
    if group_size is None:
        return width  # one scale for the whole row: per output channel
    check_positive_int("group_size", group_size)
    if width % group_size:
        raise ValueError(
            f"group_size={group_size} does not divide the width {width}: choose a "
            f"divisor of {width} (e.g. 32 or 64), or None for one scale per row"
        )
    if bits == 4 and group_size % 2:
        raise ValueError(
            f"int4 packs two weights per byte, so group_size must be even, got "
            f"{group_size}"
        )
    return group_size


def quantize_weight(
    weight: torch.Tensor, bits: int = 8, group_size: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric round-to-nearest: integers q in [-(2**(bits-1) - 1), 2**(bits-1) - 1]
    and one float scale per group of `group_size` weights in a row (the whole row if
    None), with weight ~ q * scale."""
    rows, width = weight.shape
    size = _check_group(width, bits, group_size)
    top = 2 ** (bits - 1) - 1  # 127 or 7: symmetric, so 0 stays exactly 0
    groups = weight.detach().float().reshape(rows, width // size, size)
    scale = groups.abs().amax(dim=-1, keepdim=True).clamp(min=1e-12) / top
    q = torch.round(groups / scale).clamp(-top, top).to(torch.int8)
    return q.reshape(rows, width), scale.squeeze(-1)


def dequantize_weight(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The float weights that q and their scales (rows, groups) stand for."""
    rows, width = q.shape
    groups = q.float().reshape(rows, scale.size(1), width // scale.size(1))
    return (groups * scale.unsqueeze(-1)).reshape(rows, width)


def pack_int4(q: torch.Tensor) -> torch.Tensor:
    """Two int4 values in [-7, 7] per byte: (rows, width) int8 -> (rows, width / 2)
    uint8."""
    u = (q + 8).to(torch.uint8)
    return u[:, 0::2] | (u[:, 1::2] << 4)


def unpack_int4(packed: torch.Tensor) -> torch.Tensor:
    """The inverse of pack_int4: (rows, width/2) uint8 -> (rows, width) int8."""
    low = (packed & 15).to(torch.int8) - 8
    high = (packed >> 4).to(torch.int8) - 8
    return torch.stack([low, high], dim=-1).reshape(packed.size(0), -1)


# %% chapters/19_cost_of_answering.ipynb 17
class QuantizedLinear(nn.Module):
    """A Linear whose weight is stored as int8 or packed int4 with float scales, and
    dequantized for each forward: weight-only quantization."""

    def __init__(self, linear: nn.Linear, bits: int = 8, group_size: int | None = None):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.bits = bits
        q, scale = quantize_weight(linear.weight, bits, group_size)
        self.register_buffer("qweight", pack_int4(q) if bits == 4 else q)
        self.register_buffer("scale", scale)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach())

    def weight(self) -> torch.Tensor:
        """The dequantized float weight (out_features, in_features)."""
        q = unpack_int4(self.qweight) if self.bits == 4 else self.qweight
        return dequantize_weight(q, self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight(), self.bias)

    def extra_repr(self) -> str:
        groups = self.scale.size(1)
        shape = f"{self.in_features} -> {self.out_features}"
        return f"{shape}, int{self.bits}, {groups} groups"


def quantize_model(model: GPT, bits: int = 8, group_size: int | None = None) -> GPT:
    """Replace every nn.Linear of the model (attention, feed-forward, head) by a
    QuantizedLinear, in place; embeddings and norms stay float. Returns the model."""
    if any(isinstance(m, QuantizedLinear) for m in model.modules()):
        raise ValueError(
            "the model is already quantized: quantizing again would round rounded "
            "weights; quantize the float model (load its checkpoint again)"
        )
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    for name, _ in linears:  # check every width before changing anything
        _check_group(model.get_submodule(name).in_features, bits, group_size)
    for name, linear in linears:
        parent, _, child = name.rpartition(".")
        owner = model.get_submodule(parent) if parent else model
        setattr(owner, child, QuantizedLinear(linear, bits, group_size))
    model.quantization = {"bits": bits, "group_size": group_size}
    return model


# %% chapters/19_cost_of_answering.ipynb 32
def _kernel_accepts(layer: QuantizedLinear) -> bool:
    """Whether PyTorch's CPU kernels take this layer: int8 with one scale per row, or
    int4 with out_features a multiple of 16 and groups of 32 to 256 (tinygemm's)."""
    groups = layer.scale.size(1)
    if layer.bits == 8:
        return groups == 1
    group_size = layer.in_features // groups
    return layer.out_features % 16 == 0 and group_size in (32, 64, 128, 256)


class KernelLinear(nn.Module):
    """A QuantizedLinear's integers and scales multiplied by PyTorch's fused weight-only
    CPU kernels: the weight is read as int8 or int4, never rebuilt in float."""

    def __init__(self, layer: QuantizedLinear):
        super().__init__()
        if not _kernel_accepts(layer):
            raise ValueError(f"PyTorch's weight-only kernels do not take {layer}")
        self.bits, self.out_features = layer.bits, layer.out_features
        self.group_size = layer.in_features // layer.scale.size(1)
        self.bias = layer.bias
        if layer.bits == 8:
            self.register_buffer("qweight", layer.qweight)
            self.register_buffer("scale", layer.scale[:, 0].bfloat16())
        else:  # tinygemm: unsigned 0..15 with the zero at 8; (scale, offset) per group
            q = (unpack_int4(layer.qweight) + 8).int()
            packed = torch._convert_weight_to_int4pack_for_cpu(q, 1)
            offsets = torch.zeros_like(layer.scale)
            pairs = torch.stack([layer.scale.t(), offsets.t()], dim=-1)
            self.register_buffer("qweight", packed)
            self.register_buffer("scale", pairs.bfloat16().contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, x.size(-1)).bfloat16()
        if self.bits == 8:
            y = torch._weight_int8pack_mm(flat, self.qweight, self.scale)
        else:
            y = torch._weight_int4pack_mm_for_cpu(
                flat, self.qweight, self.group_size, self.scale
            )
        y = y.float().reshape(*x.shape[:-1], self.out_features)
        return y if self.bias is None else y + self.bias


def use_kernels(model: GPT) -> GPT:
    """Swap, in place, every QuantizedLinear that PyTorch's CPU kernels take for a
    KernelLinear (the others stay as they are). Returns the model."""
    layers = [
        (n, m) for n, m in model.named_modules() if isinstance(m, QuantizedLinear)
    ]
    if not layers:
        raise ValueError("the model is not quantized: call quantize_model first")
    if any(m.qweight.device.type != "cpu" for _, m in layers):
        raise ValueError(
            "these fused kernels are PyTorch's CPU ones: move the model to the CPU, or "
            "keep QuantizedLinear (it runs on any device)"
        )
    for name, layer in layers:
        if _kernel_accepts(layer):
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, KernelLinear(layer))
    return model


# %% chapters/19_cost_of_answering.ipynb 43
def _probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / temperature) over the last dimension; one-hot at the argmax
    for temperature 0 (greedy)."""
    if temperature == 0:
        return F.one_hot(logits.argmax(-1), logits.size(-1)).float()
    return F.softmax(logits.float() / temperature, dim=-1)


def acceptance_probability(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """min(1, p(x) / q(x)) for every token x: the chance that a draft token x, drawn
    from q, is kept when the target says p."""
    return torch.where(q > 0, (p / q.clamp(min=1e-30)).clamp(max=1.0), 1.0)


def residual_distribution(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Where a rejected token is redrawn from: max(0, p - q), normalised (p itself
    when p equals q, where no rejection can happen)."""
    extra = (p - q).clamp(min=0)
    total = extra.sum(-1, keepdim=True)
    return torch.where(total > 0, extra / total.clamp(min=1e-30), p)


def verify(
    p: torch.Tensor,
    q: torch.Tensor,
    proposed: torch.Tensor,
    generator: torch.Generator | None = None,
) -> list[int]:
    """The rejection rule: keep draft tokens while u < min(1, p/q); at the first
    rejection draw from the residual and stop; if all k are kept, draw one more from
    p's last row. p is (k + 1, V), q is (k, V), proposed is (k,)."""
    kept = []
    for i, x in enumerate(proposed.tolist()):
        u = torch.rand((), generator=generator, device=p.device)
        if u < acceptance_probability(p[i], q[i])[x]:
            kept.append(x)
            continue
        redraw = residual_distribution(p[i], q[i])
        return kept + [torch.multinomial(redraw, 1, generator=generator).item()]
    return kept + [torch.multinomial(p[-1], 1, generator=generator).item()]


# %% chapters/19_cost_of_answering.ipynb 46
def _check_pair(target: GPT, draft: GPT, k: int, length: int) -> None:
    """A clear error for a draft that cannot propose for this target, or k below 1."""
    check_positive_int("k", k)
    if draft.config.vocab_size != target.config.vocab_size:
        raise ValueError(
            f"the draft's vocabulary ({draft.config.vocab_size} tokens) is not the "
            f"target's ({target.config.vocab_size}): a draft must share the target's "
            "tokenizer"
        )
    room = min(target.config.block_size, draft.config.block_size)
    if length > room:
        raise ValueError(
            f"prompt + new tokens = {length} exceed the context of {room} tokens: "
            "speculative decoding here checks the whole sequence in one pass, so keep "
            "it within the context window"
        )


@torch.no_grad()
def speculative_generate(
    target: GPT,
    draft: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    k: int = 4,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    stop: int | None = None,
) -> tuple[torch.Tensor, dict[str, int]]:
    """Extend idx (1, T) by max_new_tokens tokens distributed as the target's: the draft
    proposes k, the target checks them in one forward pass; the token `stop` (kept)
    ends it sooner. Returns the tokens and counts of target passes, proposed and
    accepted tokens."""
    check_token_ids(idx, target.config.vocab_size)
    if idx.dim() != 2 or idx.size(0) != 1 or idx.size(1) == 0:
        raise ValueError(f"idx must be one sequence (1, T), got {tuple(idx.shape)}")
    check_count("max_new_tokens", max_new_tokens)
    if check_number("temperature", temperature) < 0:
        raise ValueError(
            f"temperature must be >= 0 (0 means greedy), got {temperature}"
        )
    _check_pair(target, draft, k, idx.size(1) + max_new_tokens)
    stats = {"target_passes": 0, "proposed": 0, "accepted": 0}
    end = idx.size(1) + max_new_tokens
    while idx.size(1) < end:
        steps = min(k, end - idx.size(1) - 1)  # the target's pass adds one more
        guess, q = idx, []
        for _ in range(steps):
            probs = _probabilities(draft(guess)[0][0, -1], temperature)
            q.append(probs)
            nxt = torch.multinomial(probs, 1, generator=generator)
            guess = torch.cat([guess, nxt[None]], dim=1)
        # one pass of the target scores every proposal, and the token after them
        logits = target(guess)[0][0, idx.size(1) - 1 :]
        p = _probabilities(logits, temperature)
        new = verify(
            p, torch.stack(q) if q else p[:0], guess[0, idx.size(1) :], generator
        )
        stats["target_passes"] += 1
        stats["proposed"] += steps
        stats["accepted"] += len(new) - 1
        if stop in new:  # the text ends here, as <|end|> ends a chat's reply
            new = new[: new.index(stop) + 1]
            end = idx.size(1) + len(new)
        idx = torch.cat([idx, torch.tensor([new], device=idx.device)], dim=1)
    return idx, stats


# The public names above, computed by scripts/export.py.
__all__ = [
    "kv_cache_bytes",
    "latent_cache_bytes",
    "cache_tensor_bytes",
    "quantize_weight",
    "dequantize_weight",
    "pack_int4",
    "unpack_int4",
    "QuantizedLinear",
    "quantize_model",
    "KernelLinear",
    "use_kernels",
    "acceptance_probability",
    "residual_distribution",
    "verify",
    "speculative_generate",
]
