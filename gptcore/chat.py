"""Chat: special tokens, a chat template, supervised fine-tuning on the assistant's
tokens only, and replies that stop at the end of a turn."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/16_chat.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/16_chat.ipynb 6
from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gptcore.checkpoint import tokenizer_from_dict
from gptcore.checks import check_count, check_positive_int, check_token_ids
from gptcore.data import write_atomically
from gptcore.generation import KVCache, sample_next
from gptcore.model import GPT
from gptcore.training import Batch

SPECIAL_TOKENS: tuple[str, ...] = (
    "<|endoftext|>",  # between documents
    "<|system|>",  # a turn's role marker: <|system|>, <|user|> or <|assistant|>
    "<|user|>",
    "<|assistant|>",
    "<|end|>",  # the end of a turn: where a reply stops
)
ROLES: tuple[str, ...] = ("system", "user", "assistant")  # role r is marked by <|r|>


class ChatTokenizer:
    """A base tokenizer (CharTokenizer or BPETokenizer) plus named special tokens, whose
    ids follow the base vocabulary."""

    def __init__(self, base, special: Sequence[str] = SPECIAL_TOKENS):
        special = tuple(special)
        if not special or not all(isinstance(s, str) and s for s in special):
            raise ValueError(f"special must be non-empty strings, got {special!r}")
        if len(set(special)) != len(special):
            raise ValueError(f"a special token is listed twice: {special!r}")
        self.base, self.special = base, special
        self.ids = {name: base.vocab_size + i for i, name in enumerate(special)}
        self.names = {i: name for name, i in self.ids.items()}

    @property
    def vocab_size(self) -> int:
        """The base vocabulary plus one id per special token."""
        return self.base.vocab_size + len(self.special)

    def special_id(self, name: str) -> int:
        """The one id of a special token; a ValueError naming the known ones."""
        if name not in self.ids:
            raise ValueError(
                f"unknown special token {name!r}: this tokenizer knows "
                f"{', '.join(self.special)}"
            )
        return self.ids[name]

    def _allowed(self, allowed_special: Collection[str] | str) -> list[str]:
        """The special tokens that encode may read in text, longest first."""
        if allowed_special == "all":
            return sorted(self.special, key=len, reverse=True)
        if isinstance(allowed_special, str):
            allowed_special = (allowed_special,)  # one name, not its characters
        for name in allowed_special:
            self.special_id(name)  # a ValueError for an unknown name
        return sorted(set(allowed_special), key=len, reverse=True)

    def encode(
        self, text: str, allowed_special: Collection[str] | str = ()
    ) -> list[int]:
        """Text to ids. A special token's spelling is ordinary text unless it is in
        allowed_special (a collection of names, or "all"); then it is its one id."""
        allowed = self._allowed(allowed_special)
        if not allowed:
            return self.base.encode(text)
        ids: list[int] = []
        spellings = "|".join(re.escape(name) for name in allowed)
        for i, part in enumerate(re.split(f"({spellings})", text)):
            if i % 2:  # re.split puts the captured separators at odd indices
                ids.append(self.ids[part])
            elif part:
                ids.extend(self.base.encode(part))
        return ids

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Ids back to text; a special id becomes its spelling."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        text, run = [], []
        for i in ids + [None]:  # None: flush the last run of base ids
            if i is None or i in self.names:
                text.append(self.base.decode(run) if run else "")
                text.append(self.names.get(i, ""))
                run = []
            else:
                run.append(i)
        return "".join(text)

    def to_dict(self) -> dict:
        """JSON-able state, stored in checkpoints: the base tokenizer's, and the
        names."""
        return {
            "type": "chat",
            "base": self.base.to_dict(),
            "special": list(self.special),
        }

    @classmethod
    def from_dict(cls, state: dict) -> ChatTokenizer:
        """Rebuild a tokenizer from to_dict()'s output; a ValueError for any other
        state."""
        if (
            not isinstance(state, dict)
            or state.get("type") != "chat"
            or not isinstance(state.get("special"), list)
        ):
            raise ValueError(f"not a chat tokenizer's state: {state!r:.80}")
        return cls(tokenizer_from_dict(state.get("base")), state["special"])


# %% chapters/16_chat.ipynb 14
@torch.no_grad()
def add_special_tokens(model: GPT, count: int) -> None:
    """Grow the token embedding and the output head by count rows, each the mean of the
    existing rows: every existing token's logits stay as they were."""
    check_positive_int("count", count)
    token, head = model.embed.token, model.lm_head
    tied = head.weight is token.weight
    rows = token.weight.mean(0, keepdim=True).expand(count, -1)
    grown = nn.Embedding(token.num_embeddings + count, token.embedding_dim)
    grown.weight.copy_(torch.cat([token.weight, rows]))
    model.embed.token = grown.to(token.weight.device)
    new_head = nn.Linear(head.in_features, head.out_features + count, bias=False)
    if tied:  # one matrix, read in and scored out, as before
        new_head.weight = model.embed.token.weight
    else:
        mean = head.weight.mean(0, keepdim=True).expand(count, -1)
        new_head.weight.copy_(torch.cat([head.weight, mean]))
    model.lm_head = new_head.to(head.weight.device)
    model.embed.vocab_size += count
    model.config.vocab_size += count


# %% chapters/16_chat.ipynb 17
def check_conversation(
    messages: list[dict], where: str = "the conversation", prompt: bool = False
) -> None:
    """A ValueError naming `where` unless messages is a list of {"role", "content"}
    turns with known roles, non-empty replies, and (unless a prompt) a reply."""
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"{where}: messages must be a non-empty list of turns")
    for n, turn in enumerate(messages, 1):
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            raise ValueError(
                f"{where}, turn {n}: each turn is a dict with exactly the keys 'role' "
                f"and 'content', got {turn!r:.80}"
            )
        if turn["role"] not in ROLES:
            raise ValueError(
                f"{where}, turn {n}: unknown role {turn['role']!r}; the roles are "
                f"{', '.join(ROLES)}"
            )
        if not isinstance(turn["content"], str):
            raise ValueError(f"{where}, turn {n}: the content must be a str")
        if turn["role"] == "assistant" and not turn["content"].strip():
            raise ValueError(
                f"{where}, turn {n}: the assistant's turn is empty; there is nothing "
                "to learn from it: write the reply, or drop the turn"
            )
    if not prompt and all(turn["role"] != "assistant" for turn in messages):
        raise ValueError(
            f"{where} has no assistant turn, so nothing to learn: add the reply"
        )


def render_chat(
    messages: list[dict], tokenizer: ChatTokenizer, add_generation_prompt: bool = False
) -> tuple[list[int], list[bool]]:
    """The template: <|role|> content <|end|> per turn (then <|assistant|> to prompt a
    reply). Also a bool per id: True on what the model learns to write."""
    check_conversation(messages, prompt=add_generation_prompt)
    end = tokenizer.special_id("<|end|>")
    ids: list[int] = []
    learn: list[bool] = []
    for turn in messages:
        content = tokenizer.encode(turn["content"])  # user text is text, never a marker
        writes = turn["role"] == "assistant"
        ids += [tokenizer.special_id(f"<|{turn['role']}|>"), *content, end]
        learn += [False] + [writes] * (len(content) + 1)
    if add_generation_prompt:
        ids.append(tokenizer.special_id("<|assistant|>"))
        learn.append(False)
    return ids, learn


def parse_chat(ids: Sequence[int], tokenizer: ChatTokenizer) -> list[dict]:
    """render_chat's inverse: ids back to turns; a last turn without <|end|> keeps what
    it has so far."""
    markers = {tokenizer.special_id(f"<|{role}|>"): role for role in ROLES}
    end = tokenizer.special_id("<|end|>")
    messages: list[dict] = []
    role, content = None, []
    for position, i in enumerate(ids):
        if role is None:
            if i not in markers:
                raise ValueError(
                    f"position {position}: expected a role marker, got "
                    f"{tokenizer.decode([i])!r}: is this a rendered conversation?"
                )
            role, content = markers[i], []
        elif i == end:
            messages.append({"role": role, "content": tokenizer.decode(content)})
            role = None
        else:
            content.append(i)
    if role is not None:
        messages.append({"role": role, "content": tokenizer.decode(content)})
    return messages


def fit_to_context(
    messages: list[dict],
    tokenizer: ChatTokenizer,
    block_size: int,
    add_generation_prompt: bool = False,
) -> list[dict]:
    """The conversation without its oldest whole turns (a leading system turn stays,
    and it never starts with a reply) until it renders to at most block_size ids; a
    ValueError if none does."""
    check_positive_int("block_size", block_size)
    check_conversation(messages, prompt=add_generation_prompt)
    system = messages[:1] if messages[0]["role"] == "system" else []
    rest = messages[len(system) :]
    while rest:
        kept = system + rest
        try:
            size = len(render_chat(kept, tokenizer, add_generation_prompt)[0])
        except ValueError:  # dropping turns left no reply to learn from
            break
        if size <= block_size:
            return kept
        rest = rest[1:]
        while rest and rest[0]["role"] == "assistant":  # no reply without its question
            rest = rest[1:]
    size = len(render_chat(messages, tokenizer, add_generation_prompt)[0])
    raise ValueError(
        f"the conversation takes {size} tokens and no suffix of whole turns fits the "
        f"context of {block_size}: shorten its last turns, or use a model with a "
        "longer context"
    )


# %% chapters/16_chat.ipynb 24
# The template of render_chat, as Jinja: what tokenizer_config.json ships.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def save_chat_tokenizer(tokenizer: ChatTokenizer, folder: str | Path) -> Path:
    """Write tokenizer_config.json (the special tokens and CHAT_TEMPLATE, as Hugging
    Face names them) and the base tokenizer's state, next to save_pretrained's files."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    added = {
        str(tokenizer.special_id(name)): {
            "content": name,
            "special": True,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "single_word": False,
        }
        for name in tokenizer.special
    }
    config = {
        "added_tokens_decoder": added,
        "additional_special_tokens": list(tokenizer.special),
        "eos_token": "<|end|>" if "<|end|>" in tokenizer.special else None,
        "pad_token": "<|endoftext|>" if "<|endoftext|>" in tokenizer.special else None,
        "chat_template": CHAT_TEMPLATE,
    }
    for name, state in (
        ("tokenizer_config.json", config),
        ("gptcore_tokenizer.json", tokenizer.base.to_dict()),
    ):
        text = json.dumps(state, indent=2, ensure_ascii=False) + "\n"
        write_atomically(folder / name, lambda tmp: tmp.write_text(text, "utf-8"))
    return folder


def load_chat_tokenizer(folder: str | Path) -> ChatTokenizer:
    """The ChatTokenizer that save_chat_tokenizer wrote; a ValueError for files that
    hold other special ids or another chat template."""
    folder = Path(folder)
    config = json.loads((folder / "tokenizer_config.json").read_text("utf-8"))
    base = tokenizer_from_dict(
        json.loads((folder / "gptcore_tokenizer.json").read_text("utf-8"))
    )
    added = sorted(
        config.get("added_tokens_decoder", {}).items(), key=lambda t: int(t[0])
    )
    names = [token["content"] for _, token in added]
    ids = [int(i) for i, _ in added]
    if ids != list(range(base.vocab_size, base.vocab_size + len(names))):
        raise ValueError(
            f"{folder}: the special tokens' ids must follow the base vocabulary of "
            f"{base.vocab_size}, got {ids}: not written by "
            "save_chat_tokenizer"
        )
    if config.get("chat_template") != CHAT_TEMPLATE:
        raise ValueError(
            f"{folder}: its chat_template is not render_chat's template, so the model "
            "would be prompted in a format it was not trained on"
        )
    return ChatTokenizer(base, names)


# %% chapters/16_chat.ipynb 31
def jsonl_records(path: str | Path, hint: str) -> Iterator[tuple[str, object]]:
    """Each non-blank line of a JSONL file, parsed, with where it is ("FILE, line N");
    a ValueError naming the line, and what a line holds (hint), when it is not JSON."""
    with open(path, encoding="utf-8") as lines:
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue  # blank lines are allowed, as most JSONL readers allow them
            where = f"{path}, line {n}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                problem = f"not valid JSON ({error.msg}, column {error.colno})"
                raise ValueError(f"{where}: {problem}: {hint}") from None
            yield where, record


def read_chats(path: str | Path) -> list[list[dict]]:
    """The conversations of a JSONL file, one {"messages": [...]} per line; a ValueError
    naming the file and the line of the first bad one."""
    conversations = []
    hint = 'each line holds one {"messages": [...]} object'
    for where, record in jsonl_records(path, hint):
        if not isinstance(record, dict) or "messages" not in record:
            raise ValueError(f"{where}: expected an object with a 'messages' list")
        check_conversation(record["messages"], where)
        conversations.append(record["messages"])
    return conversations


def write_chats(path: str | Path, conversations: Sequence[list[dict]]) -> None:
    """Write conversations as JSONL, one {"messages": [...]} per line, atomically."""
    for n, messages in enumerate(conversations, 1):
        check_conversation(messages, f"conversation {n}")
    text = "".join(
        json.dumps({"messages": messages}, ensure_ascii=False) + "\n"
        for messages in conversations
    )
    write_atomically(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


# %% chapters/16_chat.ipynb 34
IGNORE = -100  # a target that does not count: cross_entropy's ignore_index


def chat_batches(
    conversations: Sequence[list[dict]], tokenizer: ChatTokenizer, block_size: int
) -> Callable[[int, torch.Generator], Batch]:
    """A source of batches, draw(batch_size, generator) -> (x, y): random conversations,
    padded at the end; y is IGNORE except on the assistant's tokens."""
    rows = []
    for n, messages in enumerate(conversations, 1):
        check_conversation(messages, f"conversation {n}")
        ids, learn = render_chat(messages, tokenizer)
        if len(ids) > block_size + 1:
            raise ValueError(
                f"conversation {n} takes {len(ids)} tokens, more than the context of "
                f"{block_size} (plus the last target): shorten it, or fit_to_context"
            )
        targets = [i if keep else IGNORE for i, keep in zip(ids[1:], learn[1:])]
        rows.append((ids[:-1], targets))
    if not rows:
        raise ValueError("no conversations to draw batches from")
    pad = tokenizer.special_id("<|endoftext|>")

    def draw(batch_size: int, generator: torch.Generator) -> Batch:
        picked = [
            rows[i]
            for i in torch.randint(len(rows), (batch_size,), generator=generator)
        ]
        width = max(len(x) for x, _ in picked)
        x = torch.full((batch_size, width), pad)
        y = torch.full((batch_size, width), IGNORE)
        for row, (ids, targets) in enumerate(picked):
            x[row, : len(ids)], y[row, : len(ids)] = (
                torch.tensor(ids),
                torch.tensor(targets),
            )
        return x, y

    return draw


def sft_loss(model: nn.Module, batch: Batch) -> torch.Tensor:
    """Supervised fine-tuning's objective: the cross-entropy of the targets that are not
    IGNORE (the assistant's tokens), their mean."""
    x, y = batch
    logits, _ = model(x)
    return F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=IGNORE)


# %% chapters/16_chat.ipynb 42
@torch.no_grad()
def respond(
    model: GPT,
    tokenizer: ChatTokenizer,
    new_ids: list[int],
    cache: KVCache,
    max_new_tokens: int = 200,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
    greedy: bool = False,
) -> list[int]:
    """Feed new_ids after what the cache holds, then write until <|end|> (kept),
    max_new_tokens, or a full context; every id returned is then in the cache."""
    block_size, end = model.config.block_size, tokenizer.special_id("<|end|>")
    check_count("max_new_tokens", max_new_tokens)
    device = next(model.parameters()).device
    idx = torch.tensor([list(new_ids)], dtype=torch.long, device=device)
    check_token_ids(idx, model.config.vocab_size)
    if not new_ids or len(cache) + len(new_ids) > block_size:
        raise ValueError(
            f"{len(new_ids)} new ids after the {len(cache)} cached do not fit the "
            f"context of {block_size} (or none were given): start a new KVCache, "
            "with fit_to_context's turns"
        )
    was_training = model.training
    model.eval()
    try:
        logits, _ = model(idx, cache=cache)
        out: list[int] = []
        while len(out) < max_new_tokens and len(cache) < block_size:
            # temperature 0 is sample_next's greedy choice, the likeliest token
            heat = 0.0 if greedy else temperature
            token = sample_next(logits[:, -1, :], heat, top_k, generator)
            out.append(token.item())
            logits, _ = model(token, cache=cache)
            if out[-1] == end:
                break
    finally:
        model.train(was_training)
    return out


# The public names above, computed by scripts/export.py.
__all__ = [
    "SPECIAL_TOKENS",
    "ROLES",
    "ChatTokenizer",
    "add_special_tokens",
    "check_conversation",
    "render_chat",
    "parse_chat",
    "fit_to_context",
    "CHAT_TEMPLATE",
    "save_chat_tokenizer",
    "load_chat_tokenizer",
    "jsonl_records",
    "read_chats",
    "write_chats",
    "IGNORE",
    "chat_batches",
    "sft_loss",
    "respond",
]
