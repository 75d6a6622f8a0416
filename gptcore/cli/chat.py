"""`gptcore chat`: talk to a model fine-tuned to chat, turn by turn, in a terminal or
through a pipe."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/16_chat.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/16_chat.ipynb 55
from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import torch

from gptcore.chat import ChatTokenizer, fit_to_context, render_chat, respond
from gptcore.checkpoint import load_model
from gptcore.checks import check_positive_int
from gptcore.cli.sample import add_cheaper_flags, cheaper_models, course_model
from gptcore.data import OutOfVocabularyError
from gptcore.generation import KVCache, sample_next
from gptcore.model import GPT
from gptcore.training import resolve_device

HELP = "/reset starts a new conversation; /quit, Ctrl-D or Ctrl-C ends the chat"


def build_parser() -> argparse.ArgumentParser:
    """The command's flags: the model, its first (system) turn, and how to sample."""
    parser = argparse.ArgumentParser(
        prog="gptcore chat",
        usage="%(prog)s [flags]  (gptcore chat --help lists them)",
        description=__doc__.split(": ", 1)[1],
        epilog=f"In the chat: {HELP}.",
    )
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="a checkpoint fine-tuned with `gptcore train --chat` (default: the "
        "course chat model, checkpoints/chat.pt, shipped with gptcore)",
    )
    parser.add_argument(
        "--system",
        default=None,
        metavar="TEXT",
        help="a system turn that opens every conversation (kept when old turns are "
        "dropped)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.0,
        help="0: always the likeliest token (default); above 0: sampled, wilder as "
        "it grows",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="sample only among the k likeliest tokens",
    )
    parser.add_argument(
        "--max-new-tokens",
        type=int,
        default=200,
        help="the longest reply, in tokens (default: 200; the context may end it "
        "sooner)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="the same seed gives the same replies"
    )
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda", "mps"]
    )
    return add_cheaper_flags(parser)  # --quantize and --draft, as gptcore sample


# %% chapters/16_chat.ipynb 56
def load_chat_model(checkpoint: str | None, device: str) -> tuple[GPT, ChatTokenizer]:
    """The model and its chat tokenizer; a ValueError for a checkpoint that was never
    fine-tuned to chat."""
    path = Path(checkpoint).expanduser() if checkpoint else course_model("chat.pt")
    model, tokenizer = load_model(path, device)
    if not isinstance(tokenizer, ChatTokenizer):
        raise ValueError(
            f"{path} was not fine-tuned to chat (its tokenizer has no special tokens "
            "to mark the turns): train one with gptcore train --init-from "
            f"{path} --chat FILE.jsonl (or --chat tasks), then chat with its .pt"
        )
    return model, tokenizer


@dataclass
class Conversation:
    """The turns so far, and what the KV cache holds of them (the ids fed so far)."""

    model: GPT
    tokenizer: ChatTokenizer
    system: str | None = None
    messages: list[dict] = field(default_factory=list)
    fed: list[int] = field(default_factory=list)
    cache: KVCache | None = None
    warned: bool = False  # the user was told that old turns are dropped
    draft: GPT | None = None  # --draft: replies by speculative decoding (chapter 19)

    def reset(self) -> None:
        """Start over: only the system turn, and an empty cache."""
        system = [{"role": "system", "content": self.system}] if self.system else []
        self.messages = system
        self.fed, self.cache = [], KVCache(len(self.model.blocks))


# %% chapters/16_chat.ipynb 57
def _room(model: GPT, max_new_tokens: int) -> int:
    """How many tokens the conversation may fill: the context, less some room for the
    reply (a quarter of the context at most)."""
    block_size = model.config.block_size
    return block_size - min(max_new_tokens, block_size // 4)


def _prompt_ids(chat: Conversation, text: str, room: int, notes: TextIO) -> list[int]:
    """The ids to feed for a new user turn: only the new ones when the cache holds the
    rest, else the whole (shortened) conversation, with the cache emptied."""
    turns = chat.messages + [{"role": "user", "content": text}]
    kept = fit_to_context(turns, chat.tokenizer, room, add_generation_prompt=True)
    if len(kept) < len(turns) and not chat.warned:
        print(
            "(the conversation no longer fits the model's context of "
            f"{chat.model.config.block_size} tokens: from now on its oldest turns are "
            "dropped)",
            file=notes,
            flush=True,
        )
        chat.warned = True
    ids, _ = render_chat(kept, chat.tokenizer, add_generation_prompt=True)
    if ids[: len(chat.fed)] != chat.fed:  # turns dropped: the cache starts over
        chat.fed, chat.cache = [], KVCache(len(chat.model.blocks))
    chat.messages, new, chat.fed = kept, ids[len(chat.fed) :], ids
    return new


def _speculative_reply(
    chat: Conversation, args: argparse.Namespace, generator: torch.Generator
) -> list[int]:
    """--draft: the reply by chapter 19's speculative decoding, up to <|end|>. It keeps
    no KV cache, so every turn reads the whole conversation again."""
    from gptcore.inference import speculative_generate  # only for --draft

    prompt, chat.fed = chat.fed, []  # nothing cached: the next turn is fed whole
    device = next(chat.model.parameters()).device
    out, _ = speculative_generate(
        chat.model,
        chat.draft,
        torch.tensor([prompt], device=device),
        min(args.max_new_tokens, chat.model.config.block_size - len(prompt)),
        temperature=args.temperature,
        generator=generator,
        stop=chat.tokenizer.special_id("<|end|>"),
    )
    return out[0, len(prompt) :].tolist()


def reply(
    chat: Conversation,
    text: str,
    args: argparse.Namespace,
    notes: TextIO,
    generator: torch.Generator,
) -> str:
    """The model's answer to one user turn; the turn and the answer join the
    conversation, and the cache holds both (with --draft, nothing is cached)."""
    new = _prompt_ids(chat, text, _room(chat.model, args.max_new_tokens), notes)
    if chat.draft is not None:
        ids = _speculative_reply(chat, args, generator)
    else:
        ids = respond(
            chat.model,
            chat.tokenizer,
            new,
            chat.cache,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature or 1.0,
            top_k=args.top_k,
            generator=generator,
            greedy=args.temperature == 0,
        )
        chat.fed = (chat.fed + ids)[: len(chat.cache)]  # what the cache really holds
    # Only the text: a special token the model writes (<|end|>, or one it should not)
    # is not part of the answer.
    answer = chat.tokenizer.decode(
        [i for i in ids if i < chat.tokenizer.base.vocab_size]
    )
    if answer:
        chat.messages.append({"role": "assistant", "content": answer})
    else:  # nothing to keep: the conversation stays as it was
        chat.messages.pop()
    return answer


# %% chapters/16_chat.ipynb 58
def _lines(source: TextIO, interactive: bool) -> Iterator[str]:
    """The user's lines: in a terminal one at a time after a prompt (Ctrl-D raises
    EOFError), else as the pipe gives them."""
    if not interactive:
        yield from (line.rstrip("\n") for line in source)
        return
    while True:
        yield input("> ")


def _problem(error: ValueError, model: GPT, room: int) -> str:
    """What is wrong with a user's line, and what to do: characters the model cannot
    read, or a line longer than its context (fit_to_context's error)."""
    if isinstance(error, OutOfVocabularyError):
        return (
            f"this model cannot read {''.join(error.characters)!r} (its vocabulary is "
            "the characters of its training text): rephrase without them"
        )
    return (
        f"it does not fit the model's context of {model.config.block_size} tokens, "
        f"{room} for the conversation and the rest for the reply: write a shorter "
        "message"
    )


def _check_system(system: str | None, tokenizer: ChatTokenizer, room: int) -> None:
    """A ValueError naming --system if the model cannot read it, or if it leaves no
    room for a user's turn."""
    if system:
        turn = [{"role": "system", "content": system}]
        try:
            size = len(render_chat(turn, tokenizer, add_generation_prompt=True)[0])
        except ValueError as error:  # OutOfVocabularyError is one
            raise ValueError(f"--system: {error}") from None
        if size >= room:
            raise ValueError(
                f"--system takes {size} tokens, and a conversation may fill {room} of "
                "the model's context (the rest is for the reply): shorten it"
            )


# %% chapters/16_chat.ipynb 59
def talk(
    chat: Conversation,
    args: argparse.Namespace,
    streams: tuple[TextIO, TextIO, TextIO],
    interactive: bool,
) -> None:
    """The chat loop over (input, replies, notes): each line is a user turn, /reset or
    /quit; a line the model cannot read is refused with a note, and the chat goes
    on."""
    source, out, notes = streams
    device = next(chat.model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(args.seed)
    chat.reset()
    try:
        for line in _lines(source, interactive):
            text = line.strip()
            if text == "/quit":
                return
            if text == "/reset":
                chat.reset()
                print("(a new conversation)", file=notes, flush=True)
            elif text:
                try:
                    answer = reply(chat, text, args, notes, generator)
                except ValueError as error:  # OutOfVocabularyError is one
                    room = _room(chat.model, args.max_new_tokens)
                    problem = _problem(error, chat.model, room)
                    print(f"(not sent: {problem})", file=notes, flush=True)
                else:
                    print(answer, file=out, flush=True)
    except EOFError:  # Ctrl-D in a terminal: end the line that the prompt began
        print(file=notes)


def main(argv: list[str] | None = None) -> int:
    """The command: load the model, then chat until /quit or the end of the input; a
    mistake in the flags or the model ends with one clear line and status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_positive_int("--max-new-tokens", args.max_new_tokens)
        device = resolve_device(args.device)
        model, tokenizer = load_chat_model(args.checkpoint, device)
        model, draft = cheaper_models(model, tokenizer, args, device)
        if draft is not None and draft.config.block_size < model.config.block_size:
            raise ValueError(
                f"the draft reads {draft.config.block_size} tokens and the model "
                f"{model.config.block_size}: a draft must read the whole conversation,"
                " so give one with the model's context"
            )
        # the flags' mistakes now, not at the first turn
        sample_next(torch.zeros(1, model.config.vocab_size), 0.0, args.top_k)
        sample_next(torch.zeros(1, 1), args.temperature)
        _check_system(args.system, tokenizer, _room(model, args.max_new_tokens))
    except (ValueError, OSError) as error:  # CheckpointError is a ValueError
        parser.error(str(error))
    chat = Conversation(model, tokenizer, args.system, draft=draft)
    streams = (sys.stdin, sys.stdout, sys.stderr)
    try:
        print(f"gptcore chat: {HELP}.", file=sys.stderr, flush=True)  # ready
        with torch.no_grad():
            talk(chat, args, streams, interactive=sys.stdin.isatty())
    except KeyboardInterrupt:  # Ctrl-C: end quietly, without a traceback
        print(file=sys.stderr)
        return 130
    return 0


# The public names above, computed by scripts/export.py.
__all__ = [
    "HELP",
    "build_parser",
    "load_chat_model",
    "Conversation",
    "reply",
    "talk",
    "main",
]
