"""Preferences and rewards: groups of answers sampled in one batch, the log-probability
of whole answers, DPO on preference pairs, and GRPO-style RL on a checker's reward."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/17_preferences_and_rewards.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/17_preferences_and_rewards.ipynb 4
from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from gptcore.chat import IGNORE, ChatTokenizer, jsonl_records, render_chat
from gptcore.checks import (
    check_count,
    check_number,
    check_positive_int,
    check_token_ids,
)
from gptcore.generation import KVCache, sample_next
from gptcore.model import GPT
from gptcore.training import Batch

_Generators = torch.Generator | Sequence[torch.Generator] | None


def prompt_ids(tokenizer: ChatTokenizer, prompt: str) -> list[int]:
    """A one-question conversation, rendered up to <|assistant|>: what a reply
    follows."""
    turn = [{"role": "user", "content": prompt}]
    return render_chat(turn, tokenizer, add_generation_prompt=True)[0]


def _prompt_rows(model: GPT, prompts: Sequence[Sequence[int]]) -> torch.Tensor:
    """Equal-length prompts as one (B, T) tensor on the model's device; a ValueError
    otherwise."""
    lengths = {len(p) for p in prompts}
    if not prompts or len(lengths) != 1 or 0 in lengths:
        raise ValueError(
            f"sample_batch needs one or more non-empty prompts of one length, got "
            f"lengths {sorted(lengths)}: group the prompts by length"
        )
    if lengths.pop() >= model.config.block_size:
        raise ValueError(
            f"the prompts fill the context of {model.config.block_size}: no room to "
            "answer; shorten them (fit_to_context)"
        )
    device = next(model.parameters()).device
    idx = torch.tensor([list(p) for p in prompts], dtype=torch.long, device=device)
    check_token_ids(idx, model.config.vocab_size)
    return idx


def _row_generators(generator: _Generators, rows: int) -> list | None:
    """One generator per row, or None when one generator (or none) draws for all."""
    if generator is None or isinstance(generator, torch.Generator):
        return None
    if len(generator) != rows:
        raise ValueError(
            f"{len(generator)} generators for {rows} rows: give one per row, or one "
            "torch.Generator for the whole batch"
        )
    return list(generator)


# %% chapters/17_preferences_and_rewards.ipynb 5
@torch.no_grad()
def sample_batch(
    model: GPT,
    tokenizer: ChatTokenizer,
    prompts: Sequence[Sequence[int]],
    max_new_tokens: int = 32,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: _Generators = None,
    greedy: bool = False,
) -> list[list[int]]:
    """Answer equal-length prompts in one batch with one KV cache: each row stops at
    its own <|end|> (kept); a stopped row draws nothing more. With one generator per
    row, row i draws what it would draw alone."""
    end = tokenizer.special_id("<|end|>")
    check_count("max_new_tokens", max_new_tokens)
    idx = _prompt_rows(model, prompts)
    gens = _row_generators(generator, len(idx))
    heat = 0.0 if greedy else temperature  # 0: sample_next's likeliest token
    out: list[list[int]] = [[] for _ in idx]
    live = list(range(len(idx)))  # rows that have not written <|end|>
    cache, was_training = KVCache(len(model.blocks)), model.training
    model.eval()
    try:
        logits, _ = model(idx, cache=cache)
        while live and len(out[live[0]]) < max_new_tokens:
            if len(cache) >= model.config.block_size:
                break
            last = logits[:, -1, :]
            if gens is None:  # one draw for every live row
                picked = sample_next(last[live], heat, top_k, generator)
            else:  # each row from its own generator, as it would alone
                rows = [
                    sample_next(last[i : i + 1], heat, top_k, gens[i]) for i in live
                ]
                picked = torch.cat(rows)
            token = torch.full((len(idx), 1), end, device=idx.device)
            token[live] = picked  # a stopped row is fed <|end|>, and never read again
            for i, t in zip(live, picked.flatten().tolist()):
                out[i].append(t)
            live = [i for i in live if out[i][-1] != end]
            if live:
                logits, _ = model(token, cache=cache)
    finally:
        model.train(was_training)
    return out


# %% chapters/17_preferences_and_rewards.ipynb 11
def answer_rows(
    prompts: Sequence[Sequence[int]],
    answers: Sequence[Sequence[int]],
    pad: int,
    block_size: int,
) -> Batch:
    """Each prompt followed by its answer, as padded rows (x, y): y holds the next id
    on the answer's tokens, IGNORE everywhere else."""
    if len(prompts) != len(answers) or not prompts:
        raise ValueError(f"{len(prompts)} prompts for {len(answers)} answers")
    rows = [list(p) + list(a) for p, a in zip(prompts, answers)]
    for n, (p, a) in enumerate(zip(prompts, answers), 1):
        if not p or not a:
            raise ValueError(f"row {n}: a prompt and an answer need a token each")
        if len(p) + len(a) > block_size + 1:
            raise ValueError(
                f"row {n} takes {len(p) + len(a)} tokens, more than the context of "
                f"{block_size} (plus the last target): shorten it"
            )
    width = max(len(r) for r in rows) - 1
    x = torch.full((len(rows), width), pad)
    y = torch.full((len(rows), width), IGNORE)
    for b, (row, p) in enumerate(zip(rows, prompts)):
        x[b, : len(row) - 1] = torch.tensor(row[:-1])
        y[b, len(p) - 1 : len(row) - 1] = torch.tensor(row[len(p) :])
    return x, y


def token_logprobs(model: GPT, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """log p(y_t | x_1..x_t) at every position (B, T) from one forward pass; 0 where y
    is IGNORE."""
    logits, _ = model(x)
    logp = logits.float().log_softmax(-1)
    counted = y != IGNORE
    picked = logp.gather(-1, y.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return torch.where(counted, picked, torch.zeros_like(picked))


def sequence_logprobs(
    model: GPT, x: torch.Tensor, y: torch.Tensor, mean: bool = False
) -> torch.Tensor:
    """Each row's answer log-probability (B,): the sum over its answer tokens, or
    their mean."""
    total = token_logprobs(model, x, y).sum(-1)
    return total / (y != IGNORE).sum(-1) if mean else total


# %% chapters/17_preferences_and_rewards.ipynb 15
def check_pair(pair: dict, where: str = "the pair") -> None:
    """A ValueError naming `where` unless pair holds a prompt and two different
    non-empty answers."""
    keys = ("prompt", "chosen", "rejected")
    if not isinstance(pair, dict) or not all(
        isinstance(pair.get(k), str) for k in keys
    ):
        raise ValueError(f"{where}: expected strings under {', '.join(keys)}")
    if not all(pair[k].strip() for k in keys):
        raise ValueError(f"{where}: the prompt and both answers must be non-empty")
    if pair["chosen"] == pair["rejected"]:
        raise ValueError(
            f"{where}: the chosen and the rejected answers are identical, so there is "
            "nothing to prefer: drop the pair, or give a worse answer"
        )


def check_beta(beta: float) -> float:
    """DPO's beta, a finite number above 0; a ValueError otherwise."""
    check_number("beta", beta)
    if not math.isfinite(beta) or beta <= 0:
        raise ValueError(
            f"beta must be a finite number above 0, got {beta}: it scales how far the "
            "policy may move from the reference (try 0.1)"
        )
    return beta


def check_reference(reference: GPT, tokenizer: ChatTokenizer) -> None:
    """A ValueError unless the reference model reads the tokenizer's vocabulary."""
    if reference.config.vocab_size != tokenizer.vocab_size:
        raise ValueError(
            f"the reference model has a vocabulary of {reference.config.vocab_size}, "
            f"the tokenizer {tokenizer.vocab_size}: use the checkpoint the policy "
            "started from as the reference"
        )


@torch.no_grad()
def _reference_logprobs(
    reference: GPT, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """The frozen reference's answer log-probabilities, 256 rows at a time."""
    was_training = reference.training
    reference.eval()
    parts = [
        sequence_logprobs(reference, a, b) for a, b in zip(x.split(256), y.split(256))
    ]
    reference.train(was_training)
    return torch.cat(parts)


def preference_batches(
    pairs: Sequence[dict], tokenizer: ChatTokenizer, reference: GPT
) -> Callable[[int, torch.Generator], Batch]:
    """A source of DPO batches, draw(batch_size, generator) -> (x_chosen, y_chosen,
    x_rejected, y_rejected, ref_chosen, ref_rejected): random pairs; the frozen
    reference's log-probabilities are computed once, here."""
    check_reference(reference, tokenizer)
    end = tokenizer.special_id("<|end|>")
    prompts, answers = [], []
    for n, pair in enumerate(pairs, 1):
        check_pair(pair, f"pair {n}")
        ids = prompt_ids(tokenizer, pair["prompt"])
        prompts += [ids, ids]
        answers += [tokenizer.encode(pair[k]) + [end] for k in ("chosen", "rejected")]
    if not prompts:
        raise ValueError("no preference pairs to draw batches from")
    pad = tokenizer.special_id("<|endoftext|>")
    x, y = answer_rows(prompts, answers, pad, reference.config.block_size)
    ref = _reference_logprobs(reference, x, y)
    chosen, rejected = slice(0, None, 2), slice(1, None, 2)
    table = (x[chosen], y[chosen], x[rejected], y[rejected], ref[chosen], ref[rejected])

    def draw(batch_size: int, generator: torch.Generator) -> Batch:
        picked = torch.randint(len(table[0]), (batch_size,), generator=generator)
        return tuple(t[picked] for t in table)

    return draw


def dpo_loss(model: GPT, batch: Batch, beta: float = 0.1) -> torch.Tensor:
    """DPO's objective, the mean over pairs of -log sigmoid(beta * (the chosen answer's
    log-ratio to the reference - the rejected one's))."""
    check_beta(beta)
    x_chosen, y_chosen, x_rejected, y_rejected, ref_chosen, ref_rejected = batch
    both = sequence_logprobs(
        model, torch.cat([x_chosen, x_rejected]), torch.cat([y_chosen, y_rejected])
    )
    chosen, rejected = both.chunk(2)
    margin = (chosen - ref_chosen) - (rejected - ref_rejected)
    return -F.logsigmoid(beta * margin).mean()


# %% chapters/17_preferences_and_rewards.ipynb 24
def group_advantages(rewards: torch.Tensor) -> torch.Tensor:
    """Rewards (prompts, group) to advantages: each minus its group's mean, over the
    group's standard deviation; a group whose rewards are all equal gets 0s."""
    if rewards.dim() != 2 or rewards.size(1) < 2:
        raise ValueError(
            f"rewards must be (prompts, group) with a group of 2 or more, got shape "
            f"{tuple(rewards.shape)}: one answer has no group to be better than"
        )
    centred = rewards - rewards.mean(1, keepdim=True)
    return centred / (rewards.std(1, keepdim=True) + 1e-6)


def grpo_loss(
    model: GPT, batch: Batch, clip: float = 0.2, kl: float = 0.0
) -> torch.Tensor:
    """The clipped policy-ratio objective over each answer's tokens (mean per answer,
    then over answers), minus kl times an estimate of the KL to the reference; negated,
    to minimise."""
    x, y, advantages, old, ref = batch
    counted = y != IGNORE
    new = token_logprobs(model, x, y)
    ratio = torch.exp(new - old)
    a = advantages.unsqueeze(1)
    gain = torch.minimum(ratio * a, ratio.clamp(1 - clip, 1 + clip) * a)
    if kl:  # k3 = e^(ref-new) - (ref-new) - 1: >= 0, its mean estimates KL(new||ref)
        gain = gain - kl * (torch.exp(ref - new) - (ref - new) - 1)
    per_answer = torch.where(counted, gain, 0).sum(1) / counted.sum(1)
    return -per_answer.mean()


def score_answer(
    check: Callable[[str, str], bool],
    prompt: str,
    answer: Sequence[int],
    tokenizer: ChatTokenizer,
) -> float:
    """1.0 for a well-formed answer (it ends with <|end|>) that the checker accepts,
    else 0.0; a checker that raises counts 0.0, with a warning."""
    if list(answer[-1:]) != [tokenizer.special_id("<|end|>")]:
        return 0.0
    text = tokenizer.decode(answer[:-1])
    try:
        return float(bool(check(prompt, text)))
    except Exception as error:  # noqa: BLE001 (any checker's error: reward 0, said)
        warnings.warn(
            f"the checker raised on {text!r} for {prompt!r}: {error!r}; reward 0",
            stacklevel=2,
        )
        return 0.0


# %% chapters/17_preferences_and_rewards.ipynb 29
class GroupSampler:
    """A source of RL batches sampled from the policy as it trains: draw(batch_size,
    generator) -> (x, y, advantages, old, ref), batch_size // group_size prompts, a
    group of answers to each, scored by the checker; self.rewards: each draw's mean."""

    def __init__(
        self,
        policy: GPT,
        tokenizer: ChatTokenizer,
        prompts: Sequence[str],
        check: Callable[[str, str], bool],
        group_size: int = 8,
        reference: GPT | None = None,
        max_new_tokens: int = 16,
        temperature: float = 1.0,
    ):
        check_positive_int("group_size", group_size)
        if group_size < 2:
            raise ValueError(
                "group_size must be 2 or more: an advantage compares an answer with "
                "the others to the same prompt"
            )
        if not prompts:
            raise ValueError("no prompts to sample answers to")
        if reference is not None:
            check_reference(reference, tokenizer)
        self.policy, self.tokenizer, self.check = policy, tokenizer, check
        self.prompts = list(prompts)
        self.ids = [prompt_ids(tokenizer, p) for p in self.prompts]
        self.group_size, self.reference = group_size, reference
        self.options = {"max_new_tokens": max_new_tokens, "temperature": temperature}
        self.rewards: list[float] = []

    def __call__(self, batch_size: int, generator: torch.Generator) -> Batch:
        """Sample, score and measure one batch of groups."""
        g = self.group_size
        if batch_size % g:
            raise ValueError(
                f"batch_size={batch_size} is not a multiple of group_size={g}"
            )
        picked = torch.randint(
            len(self.prompts), (batch_size // g,), generator=generator
        )
        prompts, answers, rewards = [], [], []
        for i in picked.tolist():
            group = sample_batch(
                self.policy,
                self.tokenizer,
                [self.ids[i]] * g,
                generator=generator,
                **self.options,
            )
            prompts += [self.ids[i]] * g
            answers += group
            rewards.append(
                [
                    score_answer(self.check, self.prompts[i], a, self.tokenizer)
                    for a in group
                ]
            )
        rewards = torch.tensor(rewards)
        self.rewards.append(rewards.mean().item())
        pad = self.tokenizer.special_id("<|endoftext|>")
        x, y = answer_rows(prompts, answers, pad, self.policy.config.block_size)
        x, y = x.to(self.device), y.to(self.device)
        with torch.no_grad():
            old = token_logprobs(self.policy, x, y)
            ref = (
                old if self.reference is None else token_logprobs(self.reference, x, y)
            )
        return x, y, group_advantages(rewards).flatten().to(x.device), old, ref

    @property
    def device(self) -> torch.device:
        """Where the policy is."""
        return next(self.policy.parameters()).device


# %% chapters/17_preferences_and_rewards.ipynb 40
def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of k answers drawn from n samples, c of them right,
    is right: 1 - C(n-c, k) / C(n, k), the unbiased estimate of pass@k."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def read_jsonl(path: str | Path, keys: tuple[str, ...]) -> list[dict]:
    """The records of a JSONL file, each an object with string values under keys; a
    ValueError naming the file and the line of the first bad one."""
    expected = f"an object with non-empty strings under {', '.join(keys)}"
    records = []
    for where, record in jsonl_records(path, f"each line holds {expected}"):
        if not isinstance(record, dict) or not all(
            isinstance(record.get(k), str) and record[k].strip() for k in keys
        ):
            raise ValueError(f"{where}: expected {expected}")
        records.append(record)
    if not records:
        raise ValueError(f"{path} holds no records")
    return records


# The public names above, computed by scripts/export.py.
__all__ = [
    "prompt_ids",
    "sample_batch",
    "answer_rows",
    "token_logprobs",
    "sequence_logprobs",
    "check_pair",
    "check_beta",
    "check_reference",
    "preference_batches",
    "dpo_loss",
    "group_advantages",
    "grpo_loss",
    "score_answer",
    "GroupSampler",
    "pass_at_k",
    "read_jsonl",
]
