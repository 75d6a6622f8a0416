"""Today's named changes to chapter 8's GPT (Llama, Mistral, Qwen2): each new part a
subclass or a sibling of the part it replaces, and a GPT that swaps them in."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/13_todays_models.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/13_todays_models.ipynb 5
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gptcore.attention import MultiHeadAttention
from gptcore.block import Block
from gptcore.checks import (
    check_choice,
    check_config,
    check_flag,
    check_number,
    check_positive_int,
    check_token_ids,
    check_vectors,
    check_width,
)
from gptcore.feedforward import FeedForward
from gptcore.layer_norm import LayerNorm
from gptcore.model import GPT, GPTConfig, param_count_formula


class RMSNorm(nn.Module):
    """LayerNorm without mean or bias: divide by the root mean square, scale (Llama)."""

    def __init__(self, n_embd: int, eps: float = 1e-5):
        super().__init__()
        self.n_embd, self.eps = check_positive_int("n_embd", n_embd), eps
        self.weight = nn.Parameter(torch.ones(n_embd))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n_embd) -> (..., n_embd): weight * x / sqrt(mean(x^2) + eps)."""
        check_width(x, self.n_embd)
        h = x.float()  # as transformers does: in float32, even for bfloat16 x
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


# %% chapters/13_todays_models.ipynb 9
def _check_even_head(head_size: int) -> None:
    """A ValueError unless RoPE can pair a head's channels: head_size must be even."""
    if head_size % 2:
        raise ValueError(
            "RoPE turns channels in pairs, so the head size n_embd // n_head must be "
            f"even, got {head_size}: change n_embd or n_head"
        )


class RotaryEmbedding(nn.Module):
    """RoPE: turn channel pair (i, i + hs/2) of q and k by position * theta^(-2i/hs)."""

    def __init__(self, head_size: int, theta: float = 10000.0):
        super().__init__()
        _check_even_head(check_positive_int("head_size", head_size))
        self.head_size, self.theta = head_size, theta

    def angles(
        self, start: int, T: int, device: torch.device | None = None
    ) -> torch.Tensor:
        """(T, head_size) angles of positions start.. start+T-1; column i + hs/2 = i."""
        pair = torch.arange(0, self.head_size, 2, device=device, dtype=torch.float)
        speed = 1.0 / self.theta ** (pair / self.head_size)  # radians per position
        pos = torch.arange(start, start + T, device=device, dtype=torch.float)
        angle = pos[:, None] * speed  # (T, head_size / 2)
        return torch.cat([angle, angle], dim=-1)  # the halves layout of transformers

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """(..., T, head_size) at positions start.. -> the same, every pair turned."""
        angle = self.angles(start, x.size(-2), x.device)
        cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
        x1, x2 = x.chunk(2, dim=-1)  # pair i is (x1[i], x2[i])
        # (a, b) -> (a cos - b sin, b cos + a sin): a rotation of each pair by its angle
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin

    def extra_repr(self) -> str:
        """What print(model) shows of this module."""
        return f"head_size={self.head_size}, theta={self.theta}"


class TokenEmbeddings(nn.Module):
    """Chapter 7's Embeddings without the position table: with RoPE, attention tells
    where a token is."""

    def __init__(self, vocab_size: int, n_embd: int):
        super().__init__()
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.token = nn.Embedding(vocab_size, check_positive_int("n_embd", n_embd))

    def forward(self, idx: torch.Tensor, start: int = 0) -> torch.Tensor:
        """(B, T) token ids -> (B, T, n_embd); start (the first position) is unused."""
        check_token_ids(idx, self.vocab_size)
        return self.token(idx)


# %% chapters/13_todays_models.ipynb 14
class SwiGLU(FeedForward):
    """Chapter 4's FeedForward with a gate (Llama): proj(SiLU(gate) * up), where fc
    makes [gate | up] in one multiply."""

    def __init__(
        self,
        n_embd: int,
        dropout: float = 0.0,
        bias: bool = True,
        hidden: int | None = None,
    ):
        super().__init__(n_embd, dropout, bias, hidden)
        self.fc = nn.Linear(
            n_embd, 2 * self.hidden, bias=bias
        )  # the change: two halves
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., n_embd) -> (..., n_embd): the SiLU gate times up, channelwise."""
        check_width(x, self.n_embd)
        gate, up = self.fc(x).chunk(2, dim=-1)
        return self.drop(self.proj(self.act(gate) * up))


# %% chapters/13_todays_models.ipynb 18
def _check_kv_heads(n_head: int, n_kv_head: int) -> None:
    """A ValueError unless n_kv_head key/value heads split the n_head query heads."""
    if n_head % check_positive_int("n_kv_head", n_kv_head):
        raise ValueError(
            f"n_kv_head={n_kv_head} must divide n_head={n_head}: each key/value head "
            "serves an equal group of query heads"
        )


class GroupedQueryAttention(MultiHeadAttention):
    """Chapter 3's attention with n_kv_head key/value heads, each shared by a group of
    query heads; a bias of its own on q, k, v; and optionally RoPE on q and k."""

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        block_size: int,
        dropout: float = 0.0,
        bias: bool = True,
        n_kv_head: int | None = None,
        qkv_bias: bool | None = None,
        rotary: RotaryEmbedding | None = None,
    ):
        super().__init__(n_embd, n_head, block_size, dropout, bias)
        self.n_kv_head = n_head if n_kv_head is None else n_kv_head
        _check_kv_heads(n_head, self.n_kv_head)
        self.kv_width = self.n_kv_head * self.head_size  # n_embd unless heads share
        qkv_bias = bias if qkv_bias is None else qkv_bias
        # the change: [q | k | v] with k and v n_kv_head heads wide
        self.qkv = nn.Linear(n_embd, n_embd + 2 * self.kv_width, bias=qkv_bias)
        self.rotary = rotary  # RoPE, which turns q and k by their positions; or None

    def split_heads(
        self, x: torch.Tensor, start: int = 0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q (B, n_head, T, hs), k and v (B, n_kv_head, T, hs), at positions start.."""
        check_vectors(x, self.n_embd, self.block_size)
        B, T, C = x.shape
        parts = self.qkv(x).split([C, self.kv_width, self.kv_width], dim=-1)
        q, k, v = (t.view(B, T, -1, self.head_size).transpose(1, 2) for t in parts)
        if self.rotary is not None:  # where a token is: a rotation of its q and k
            q, k = self.rotary(q, start), self.rotary(k, start)
        return q, k, v

    def expand_kv(self, t: torch.Tensor) -> torch.Tensor:
        """Keys or values (B, n_kv_head, T, hs) -> (B, n_head, T, hs): one per query."""
        group = self.n_head // self.n_kv_head  # query head h reads kv head h // group
        return t if group == 1 else t.repeat_interleave(group, dim=1)

    def attend(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Chapter 3's attention, each key and value head serving its group."""
        return super().attend(q, self.expand_kv(k), self.expand_kv(v))

    def forward(self, x: torch.Tensor, cache=None) -> torch.Tensor:
        """Chapter 3's forward, q and k turned to their positions (cache.start on)."""
        q, k, v = self.split_heads(x, 0 if cache is None else cache.start)
        if cache is not None:  # the cache keeps n_kv_head heads: the smaller one
            k, v = cache.extend(k, v)
        y = self.attend(q, k, v).transpose(1, 2).reshape(x.shape)
        return self.resid_drop(self.proj(y))


# %% chapters/13_todays_models.ipynb 21
@dataclass
class ModernConfig(GPTConfig):
    """GPTConfig and today's options; each default keeps GPT-2's choice."""

    norm: str = "layernorm"  # or "rmsnorm" (Llama); never a bias
    norm_eps: float = 1e-5  # added to the variance (Llama: 1e-5 or 1e-6)
    position: str = "learned"  # or "rope": rotary, no position table (Llama)
    rope_theta: float = 10000.0  # RoPE's base; Llama 3 uses 500000
    ffn: str = "gelu"  # or "swiglu" (Llama)
    ffn_hidden: int | None = None  # the feed-forward's hidden width; None: 4 * n_embd
    n_kv_head: int | None = None  # key/value heads, shared by groups; None: n_head
    qkv_bias: bool | None = None  # a bias on q, k and v (Qwen2: True); None: as bias

    def __post_init__(self) -> None:
        super().__post_init__()  # chapter 8's checks first
        check_choice("ModernConfig.norm", self.norm, ("layernorm", "rmsnorm"))
        check_choice("ModernConfig.position", self.position, ("learned", "rope"))
        check_choice("ModernConfig.ffn", self.ffn, ("gelu", "swiglu"))
        for name in ("norm_eps", "rope_theta"):
            value = check_number(f"ModernConfig.{name}", getattr(self, name))
            if not value > 0:
                raise ValueError(f"ModernConfig.{name} must be positive, got {value}")
        if self.ffn_hidden is not None:
            check_positive_int("ModernConfig.ffn_hidden", self.ffn_hidden)
        if self.n_kv_head is not None:
            _check_kv_heads(self.n_head, self.n_kv_head)
        if self.qkv_bias is not None:
            check_flag("ModernConfig.qkv_bias", self.qkv_bias)
        if self.position == "rope":
            _check_even_head(self.n_embd // self.n_head)


# %% chapters/13_todays_models.ipynb 23
def _norm(config: ModernConfig) -> nn.Module:
    """The norm a ModernConfig asks for: RMSNorm, or chapter 6's LayerNorm, with eps."""
    c = config
    if c.norm == "rmsnorm":
        return RMSNorm(c.n_embd, c.norm_eps)
    return LayerNorm(c.n_embd, c.bias, c.norm_eps)


def _changes_norm(config: ModernConfig) -> bool:
    """Whether the config's norm differs from chapter 6's LayerNorm(n_embd, bias)."""
    return config.norm == "rmsnorm" or config.norm_eps != 1e-5  # LayerNorm's eps


class ModernBlock(Block):
    """Chapter 6's Block with the parts its ModernConfig changes swapped in."""

    def __init__(self, config: ModernConfig, rotary: RotaryEmbedding | None = None):
        c = config
        super().__init__(c.n_embd, c.n_head, c.block_size, c.dropout, c.bias)
        if _changes_norm(c):
            self.ln1, self.ln2 = _norm(c), _norm(c)
        if rotary is not None or c.n_kv_head is not None or c.qkv_bias is not None:
            self.attn = GroupedQueryAttention(
                c.n_embd,
                c.n_head,
                c.block_size,
                c.dropout,
                c.bias,
                c.n_kv_head,
                c.qkv_bias,
                rotary,
            )
        if c.ffn == "swiglu":
            self.ffn = SwiGLU(c.n_embd, c.dropout, c.bias, c.ffn_hidden)
        elif c.ffn_hidden is not None:
            self.ffn = FeedForward(c.n_embd, c.dropout, c.bias, c.ffn_hidden)


class ModernGPT(GPT):
    """Chapter 8's GPT with the parts its ModernConfig changes swapped in."""

    def __init__(self, config: ModernConfig):
        example = "ModernGPT(ModernConfig(vocab_size=..., norm='rmsnorm'))"
        check_config("ModernGPT", config, ModernConfig, example)
        super().__init__(config)  # chapter 8's GPT, then the changes
        c, rotary = config, None
        if c.position == "rope":  # no position table: attention turns q and k instead
            self.embed = TokenEmbeddings(c.vocab_size, c.n_embd)
            rotary = RotaryEmbedding(c.n_embd // c.n_head, c.rope_theta)  # one, shared
        self.blocks = nn.ModuleList(ModernBlock(c, rotary) for _ in range(c.n_layer))
        if _changes_norm(c):
            self.ln_f = _norm(c)
        if c.tie_weights:  # the head shares the (new) token table again
            self.lm_head.weight = self.embed.token.weight
        self.init_weights()  # GPT-2's initialisation, of the new parts too


# %% chapters/13_todays_models.ipynb 38
def modern_param_count(config: ModernConfig) -> int:
    """The number of parameters of ModernGPT(config): chapter 8's count, then what each
    change adds or removes."""
    c = config
    C, L, b = c.n_embd, c.n_layer, int(c.bias)
    count = param_count_formula(c)  # GPT-2's parts at these sizes
    if c.position == "rope":  # no position table
        count -= c.block_size * C
    if c.norm == "rmsnorm":  # no bias in any of the 2L + 1 norms
        count -= (2 * L + 1) * b * C
    kv = (c.n_kv_head or c.n_head) * (C // c.n_head)  # k's and v's width
    b_qkv = b if c.qkv_bias is None else int(c.qkv_bias)
    count += L * ((C + b_qkv) * (C + 2 * kv) - (C + b) * 3 * C)  # qkv
    hidden = c.ffn_hidden or 4 * C
    fc_out = 2 * hidden if c.ffn == "swiglu" else hidden  # SwiGLU's fc: [gate | up]
    count += L * ((C + b) * (fc_out - 4 * C) + (hidden - 4 * C) * C)  # fc and proj
    return count


# The public names above, computed by scripts/export.py.
__all__ = [
    "RMSNorm",
    "RotaryEmbedding",
    "TokenEmbeddings",
    "SwiGLU",
    "GroupedQueryAttention",
    "ModernConfig",
    "ModernBlock",
    "ModernGPT",
    "modern_param_count",
]
