"""Generating text with a GPT: sampling with temperature and top-k, greedy decoding, and
a key-value cache.
"""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/10_generation.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/10_generation.ipynb 29
import math

import torch
import torch.nn.functional as F

from gptcore.checks import check_count, check_length, check_token_ids
from gptcore.model import GPT

# The smallest temperature above 0 that sample_next divides by. Below it the draw is
# greedy anyway (logits 1e-4 apart end up more than 100 apart, odds beyond e**100),
# while a far smaller one (1e-40) overflows float32 (at 3.4e38) to inf, and softmax
# to NaN.
_MIN_TEMPERATURE = 1e-6


def _check_sampling(temperature: float, top_k: int | None, vocab_size: int) -> None:
    """A clear ValueError for a temperature or top_k that cannot be sampled with."""
    if not temperature >= 0:  # written this way round so that NaN is rejected too
        raise ValueError(
            f"temperature must be >= 0 (0 means greedy), got {temperature}"
        )
    if math.isinf(temperature):
        raise ValueError(
            f"temperature must be a finite number >= 0 (0 means greedy), got "
            f"{temperature}: an infinite one ignores the model"
        )
    if 0 < temperature < _MIN_TEMPERATURE:
        raise ValueError(
            f"temperature {temperature} is too small to divide the logits by: use at "
            f"least {_MIN_TEMPERATURE}, or 0 (0 means greedy, the choice it gives)"
        )
    if top_k is not None and not 1 <= top_k <= vocab_size:
        raise ValueError(
            f"top_k must be between 1 and the vocabulary size {vocab_size} "
            f"(or None for no limit), got {top_k}"
        )


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Choose one token id per row of logits (B, V) -> (B, 1): the argmax if temperature
    is 0, else a draw.
    """
    _check_sampling(temperature, top_k, logits.size(-1))
    if temperature == 0:  # the limit T -> 0: no division, just the most likely token
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:  # keep the k largest logits; the rest get probability 0
        values, indices = torch.topk(logits, top_k, dim=-1)
        logits = torch.full_like(logits, float("-inf")).scatter(-1, indices, values)
    probs = F.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)


# %% chapters/10_generation.ipynb 37
class KVCache:
    """Each block's keys and values so far: a new token then costs one position."""

    def __init__(self, n_layer: int):
        # per block: (B, n_kv_head, T, head_size), keys already turned if RoPE
        self.keys: list[torch.Tensor | None] = [None] * n_layer
        self.values: list[torch.Tensor | None] = [None] * n_layer
        self.dropped = 0  # positions forgotten by drop_oldest (a rolling window)

    def __len__(self) -> int:
        """The number of positions cached."""
        return 0 if self.keys[0] is None else self.keys[0].size(2)

    def extend(
        self, layer: int, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append one block's new keys and values; return all of that block's."""
        if self.keys[layer] is not None:
            k = torch.cat([self.keys[layer], k], dim=2)
            v = torch.cat([self.values[layer], v], dim=2)
        self.keys[layer], self.values[layer] = k, v
        return k, v

    def drop_oldest(self, n: int = 1) -> None:
        """Forget every block's n oldest positions: a rolling window (RoPE only)."""
        self.keys = [k[:, :, n:] for k in self.keys]
        self.values = [v[:, :, n:] for v in self.values]
        self.dropped += n


def forward_cached(model: GPT, idx: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """GPT.forward for just the new tokens idx (B, T) after the cached ones: (B, T, V).

    A teaching pair with the model: its loop body mirrors Block.forward line for line
    (x + attn(ln1(x)), then x + ffn(ln2(x))), except that attention reads the cache too.
    """
    B, T = idx.shape
    cached = len(cache)
    check_length(cached + T, model.config.block_size)  # cached + new must fit in
    if cache.dropped and model.embed.position is not None:
        raise ValueError(
            "a learned position table has no row past block_size, so "
            "only a RoPE model can roll its cache: rebuild it from the "
            "last block_size tokens instead"
        )
    start = cache.dropped + cached  # the position of the first new token
    x = model.drop(model.embed(idx, start))
    # New query i may see every cached key and new keys 0..i: the causal mask shifted by
    # `cached`. With nothing cached that is plain causal attention; one new token sees
    # every key.
    is_causal = cached == 0
    allowed = (
        None
        if is_causal or T == 1
        else torch.ones(T, cached + T, dtype=torch.bool, device=idx.device).tril(cached)
    )
    for layer, block in enumerate(model.blocks):
        attn = block.attn
        q, k, v = attn.split_heads(block.ln1(x), start)  # RoPE turns q and k here
        k, v = cache.extend(layer, k, v)  # the new keys and values join the cached ones
        y = F.scaled_dot_product_attention(
            q,
            attn.expand_kv(k),
            attn.expand_kv(v),
            attn_mask=allowed,
            is_causal=is_causal,
        )
        x = x + attn.resid_drop(attn.proj(y.transpose(1, 2).reshape(B, T, attn.n_embd)))
        x = x + block.ffn(block.ln2(x))
    return model.lm_head(model.ln_f(x))


# %% chapters/10_generation.ipynb 47
@torch.no_grad()
def generate(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    use_cache: bool = False,
) -> torch.Tensor:
    """Extend idx (B, T) by max_new_tokens tokens, each chosen by sample_next and fed
    back: (B, T + max_new_tokens).
    """
    block_size, vocab_size = model.config.block_size, model.config.vocab_size
    check_token_ids(idx, vocab_size)
    if idx.dim() != 2 or idx.numel() == 0:
        raise ValueError(
            "idx must be a non-empty (B, T) tensor of token ids, got shape "
            f"{tuple(idx.shape)}: for one sequence pass idx[None]"
        )
    check_count("max_new_tokens", max_new_tokens)
    _check_sampling(temperature, top_k, vocab_size)
    was_training = model.training
    model.eval()  # no dropout while generating
    try:
        cache = KVCache(len(model.blocks))
        for _ in range(max_new_tokens):
            if not use_cache:  # the whole window, every step
                logits, _ = model(idx[:, -block_size:])
            # empty, or full so the window slides: (re)build from the window
            elif len(cache) in (0, block_size):
                cache = KVCache(len(model.blocks))
                logits = forward_cached(model, idx[:, -block_size:], cache)
            else:  # only the newest token is new
                logits = forward_cached(model, idx[:, -1:], cache)
            idx = torch.cat(
                [idx, sample_next(logits[:, -1, :], temperature, top_k, generator)],
                dim=1,
            )
    finally:
        model.train(was_training)
    return idx


# %% chapters/10_generation.ipynb 56
def generate_text(
    model: GPT,
    tokenizer,
    prompt: str,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    use_cache: bool = True,
) -> str:
    """Continue prompt by max_new_tokens characters; returns the prompt followed by the
    continuation.
    """
    if not prompt:
        raise ValueError(
            "the prompt is empty: give at least one character to continue, e.g. '\\n'"
        )
    # a ValueError naming any character outside the vocabulary
    ids = tokenizer.encode(prompt)
    device = next(model.parameters()).device
    generator = (
        None if seed is None else torch.Generator(device=device).manual_seed(seed)
    )
    idx = torch.tensor([ids], dtype=torch.long, device=device)
    out = generate(model, idx, max_new_tokens, temperature, top_k, generator, use_cache)
    return tokenizer.decode(out[0].tolist())


# The public names above, computed by scripts/export.py.
__all__ = ["sample_next", "KVCache", "forward_cached", "generate", "generate_text"]
