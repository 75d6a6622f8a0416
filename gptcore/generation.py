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

from gptcore.checks import check_count, check_token_ids
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
class LayerCache:
    """One block's keys and values so far, (B, heads, positions, head_size) each."""

    def __init__(self):
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None
        self.dropped = 0  # positions forgotten by drop_oldest (a rolling window)

    def __len__(self) -> int:
        """The number of positions cached."""
        return 0 if self.keys is None else self.keys.size(2)

    @property
    def start(self) -> int:
        """The position of the next new token: every position seen, kept or dropped."""
        return self.dropped + len(self)

    def extend(
        self, k: torch.Tensor, v: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Append the new keys and values; return all of them, the cached ones first."""
        if self.keys is not None:
            k = torch.cat([self.keys, k], dim=2)
            v = torch.cat([self.values, v], dim=2)
        self.keys, self.values = k, v
        return k, v

    def drop_oldest(self, n: int = 1) -> None:
        """Forget the n oldest positions: a rolling window."""
        self.keys, self.values = self.keys[:, :, n:], self.values[:, :, n:]
        self.dropped += n


class KVCache:
    """Every block's LayerCache: what model(idx, cache=cache) reads and extends."""

    def __init__(self, n_layer: int):
        self.layers = [LayerCache() for _ in range(n_layer)]

    def __len__(self) -> int:
        """The number of positions cached."""
        return len(self.layers[0])

    @property
    def start(self) -> int:
        """The position of the next new token."""
        return self.layers[0].start

    def drop_oldest(self, n: int = 1) -> None:
        """Forget every block's n oldest positions: a rolling window."""
        for layer in self.layers:
            layer.drop_oldest(n)


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
                logits, _ = model(idx[:, -block_size:], cache=cache)
            else:  # only the newest token is new
                logits, _ = model(idx[:, -1:], cache=cache)
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
__all__ = ["sample_next", "LayerCache", "KVCache", "generate", "generate_text"]
