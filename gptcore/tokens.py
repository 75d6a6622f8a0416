"""Token ids on disk: a corpus encoded once into a memory-mapped array, reused by every
later run, and read a batch at a time."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/11_command_line.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/11_command_line.ipynb 11
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

import gptcore.data
from gptcore.checkpoint import tokenizer_from_dict
from gptcore.data import (
    CharTokenizer,
    cache_folder,
    check_writable,
    file_sha256,
    load_corpus,
    play_files,
    split_fraction,
    write_atomically,
)

if TYPE_CHECKING:  # only for the type hints: chapter 14 defines it
    from gptcore.bpe import BPETokenizer

_CHUNK = 1 << 24  # characters read at a time: memory stays flat, whatever the size
_FORMAT = "v1"  # part of every cache file's name: a new layout never reads an old file


class TokenArray:
    """Token ids in a numpy array (memory-mapped from disk), indexed like the 1-D tensor
    that get_batch expects."""

    def __init__(self, array: np.ndarray):
        self.array = array

    def dim(self) -> int:
        return 1

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        """The ids at `index` (a tensor of positions), read from the array, as int64."""
        return torch.from_numpy(self.array[index.numpy()].astype(np.int64))


def token_dtype(vocab_size: int) -> np.dtype:
    """The narrowest unsigned type that holds every id: uint8, uint16 or uint32."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if vocab_size <= np.iinfo(dtype).max + 1:
            return np.dtype(dtype)
    raise ValueError(f"a vocabulary of {vocab_size:,} ids does not fit in uint32")


def _code_points(text: str) -> np.ndarray:
    """The text's code points, as one uint32 each."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


def lookup_table(tokenizer: CharTokenizer) -> np.ndarray:
    """Every code point's id, -1 for a character outside the vocabulary."""
    table = np.full(0x110000, -1, dtype=np.int32)
    table[[ord(ch) for ch in tokenizer.vocab]] = np.arange(tokenizer.vocab_size)
    return table


def encode_chars(
    text: str, tokenizer: CharTokenizer, table: np.ndarray | None = None
) -> np.ndarray:
    """CharTokenizer.encode, vectorised: one table lookup over the text's code points
    instead of a Python loop over its characters."""
    table = lookup_table(tokenizer) if table is None else table
    ids = table[_code_points(text)]
    if (ids < 0).any():
        tokenizer.encode(text)  # raises the ValueError that names the characters
    return ids.astype(token_dtype(tokenizer.vocab_size))


def _text_chunks(path: Path) -> Iterator[str]:
    """A file's text, a chunk at a time, read as chapter 1's load_text reads it: UTF-8,
    with a Windows line end (CR LF) or a lone CR read as one newline."""
    with path.open(encoding="utf-8") as f:  # newline=None, as in Path.read_text
        while True:
            try:
                text = f.read(_CHUNK)
            except UnicodeDecodeError as err:
                raise ValueError(
                    f"{path} is not UTF-8 text ({err}); convert it to UTF-8 first"
                ) from None
            if not text:
                return
            yield text


def file_vocabulary(path: Path) -> tuple[str, int]:
    """A text file's distinct characters, sorted (CharTokenizer.from_text's vocabulary),
    and its length in characters, read a chunk at a time."""
    seen, length = np.zeros(0x110000, dtype=bool), 0
    for text in _text_chunks(path):
        seen[_code_points(text)] = True
        length += len(text)
    if not length:
        raise ValueError(f"{path} is empty: a corpus needs some text")
    return "".join(map(chr, np.flatnonzero(seen))), length


def token_cache_folder(cache_dir: str | Path | None = None) -> Path:
    """The folder of cached token ids, `tokens` in cache_folder(cache_dir), made if need
    be."""
    folder = cache_folder(cache_dir) / "tokens"
    check_writable(folder, "the token cache", "point GPTCORE_CACHE at another folder")
    return folder


def corpus_sha256(corpus: str, cache: Path) -> str:
    """The SHA-256 that names a corpus: of its file, or of the plays' files and the code
    that cleans them. A file's is remembered by its path, size, inode and times (a copy
    that keeps the modification time still changes the inode or the change time)."""
    if corpus == "plays":
        digest = hashlib.sha256(Path(gptcore.data.__file__).read_bytes())
        for name, file in sorted(play_files().items()):
            digest.update(name.encode() + file.read_binary())
        return digest.hexdigest()
    path = Path(corpus).resolve()
    stat = path.stat()
    index = cache / "sha256.json"
    try:
        known = json.loads(index.read_text()) if index.is_file() else {}
    except ValueError:  # a damaged index: its entries are computed again
        known = {}
    key = f"{path}:{stat.st_size}:{stat.st_ino}:{stat.st_mtime_ns}:{stat.st_ctime_ns}"
    if key not in known:
        known[key] = file_sha256(path)
        write_atomically(index, lambda tmp: tmp.write_text(json.dumps(known)))
    return known[key]


def corpus_id(corpus: str, sha256: str | None, folder: Path) -> str | None:
    """The SHA-256 that names a corpus: its file's (or the plays'), else the one given
    with a URL; None for a missing file or a URL given without one."""
    if corpus == "plays" or Path(corpus).is_file():
        return corpus_sha256(corpus, folder)
    return sha256


def _encode_file(
    path: Path, tokenizer: CharTokenizer | None, out: Path
) -> tuple[CharTokenizer, int]:
    """Write a text file's ids to `out`, a chunk at a time; its tokenizer (built from
    the file when none is given) and its length."""
    if tokenizer is None:
        vocab, length = file_vocabulary(path)
        tokenizer = CharTokenizer(vocab)
    else:
        length = sum(len(text) for text in _text_chunks(path))
    table = lookup_table(tokenizer)
    with out.open("wb") as f:  # appended a chunk at a time: memory stays flat
        for text in _text_chunks(path):
            encode_chars(text, tokenizer, table).tofile(f)
    return tokenizer, length


def _write_entry(
    corpus: str,
    tokenizer: CharTokenizer | BPETokenizer | None,
    sha256: str | None,
    val_fraction: float | None,
    bpe_vocab_size: int | None,
    ids_path: Path,
) -> dict:
    """Encode the corpus into ids_path (atomically); its description: the tokenizer,
    the dtype, and how many of the ids are for training."""
    meta: dict = {}
    fraction = split_fraction(corpus, val_fraction)

    def write_ids(tmp: Path) -> None:
        nonlocal tokenizer
        streamed = corpus != "plays" and Path(corpus).is_file() and not bpe_vocab_size
        if streamed and (tokenizer is None or isinstance(tokenizer, CharTokenizer)):
            # a text file, into characters: streamed, whatever its size
            tokenizer, length = _encode_file(Path(corpus), tokenizer, tmp)
            meta["train_tokens"], meta["tokens"] = int(length * (1 - fraction)), length
            return
        train_text, val_text = _split_outside(
            *load_corpus(corpus, sha256, val_fraction), _separator(tokenizer)
        )
        if tokenizer is None and bpe_vocab_size:
            from gptcore.bpe import BPETokenizer  # chapter 14's, only when asked

            tokenizer = BPETokenizer.train(train_text, bpe_vocab_size)
        elif tokenizer is None:
            tokenizer = CharTokenizer.from_text(train_text + val_text)
        parts = [_encode_text(text, tokenizer) for text in (train_text, val_text)]
        parts[0].tofile(tmp)
        with tmp.open("ab") as f:
            parts[1].tofile(f)
        meta["train_tokens"], meta["tokens"] = (
            len(parts[0]),
            len(parts[0]) + len(parts[1]),
        )

    write_atomically(ids_path, write_ids)
    meta["dtype"] = str(token_dtype(tokenizer.vocab_size))
    meta["tokenizer"] = tokenizer.to_dict()
    return meta


def load_tokens(
    corpus: str,
    tokenizer: CharTokenizer | BPETokenizer | None = None,
    sha256: str | None = None,
    val_fraction: float | None = None,
    cache_dir: str | Path | None = None,
    *,
    bpe_vocab_size: int | None = None,
) -> tuple[CharTokenizer | BPETokenizer, TokenArray, TokenArray]:
    """The corpus's tokenizer and its training and validation ids, memory-mapped from a
    cache written once (atomically) and named by the text's SHA-256 and the tokenizer.

    The corpus is load_corpus's: 'plays', a text file or a URL. Without a `tokenizer`,
    one is built: characters, or with `bpe_vocab_size` a byte-level BPE (chapter 14).
    """
    fraction = split_fraction(corpus, val_fraction)  # its errors, before any work
    folder = token_cache_folder(cache_dir)
    local = corpus == "plays" or Path(corpus).is_file()
    digest = corpus_id(corpus, sha256, folder)
    if sha256 and local and corpus != "plays" and digest != sha256:
        raise ValueError(
            f"checksum mismatch for {corpus}: expected sha256 {sha256}, got {digest}; "
            "the file changed or the checksum is wrong"
        )
    if not digest:  # a URL without its checksum: load_corpus says what to do
        load_corpus(corpus, sha256, val_fraction)
    if tokenizer is not None:
        kind = hashlib.sha256(json.dumps(tokenizer.to_dict()).encode()).hexdigest()
    else:
        kind = f"bpe{bpe_vocab_size}" if bpe_vocab_size else "char"
    name = f"{_FORMAT}-{digest}-{kind[:16]}-{fraction}"
    meta_path, ids_path = folder / f"{name}.json", folder / f"{name}.ids"
    if _read_entry(meta_path, ids_path) is None:  # missing, or damaged: (re)written
        meta = _write_entry(
            corpus, tokenizer, sha256, val_fraction, bpe_vocab_size, ids_path
        )
        write_atomically(meta_path, lambda tmp: tmp.write_text(json.dumps(meta)))
    meta = _read_entry(meta_path, ids_path)
    if meta is None:
        raise OSError(f"the token cache {folder} changed while it was read: run again")
    ids = np.memmap(ids_path, dtype=meta["dtype"], mode="r")
    split = meta["train_tokens"]
    if tokenizer is None:
        tokenizer = tokenizer_from_dict(meta["tokenizer"])
    return tokenizer, TokenArray(ids[:split]), TokenArray(ids[split:])


def _read_entry(meta_path: Path, ids_path: Path) -> dict | None:
    """A cache entry's description, if both its files are there and agree; else None."""
    try:
        meta = json.loads(meta_path.read_text())
        size = np.dtype(meta["dtype"]).itemsize * meta["tokens"]
        return meta if ids_path.stat().st_size == size and size > 0 else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _encode_text(text: str, tokenizer: CharTokenizer | BPETokenizer) -> np.ndarray:
    """A text's ids as the narrowest numpy array: vectorised for characters."""
    if isinstance(tokenizer, CharTokenizer):
        return encode_chars(text, tokenizer)
    dtype = token_dtype(tokenizer.vocab_size)
    if _separator(tokenizer):  # documents separated by <|endoftext|>: its one id
        return np.array(tokenizer.encode(text, {_separator(tokenizer)}), dtype=dtype)
    return np.array(tokenizer.encode(text), dtype=dtype)


def _separator(tokenizer) -> str | None:
    """The end-of-text marker, if the tokenizer has it as a special token (chapter 16's
    ChatTokenizer): between documents it is one id, never text."""
    special = getattr(tokenizer, "special", ())
    return "<|endoftext|>" if "<|endoftext|>" in special else None


def _split_outside(train: str, val: str, marker: str | None) -> tuple[str, str]:
    """The training and validation text, the split moved past a marker it would cut."""
    for k in range(1, len(marker or "")):
        if train.endswith(marker[:k]) and val.startswith(marker[k:]):
            return train + marker[k:], val[len(marker) - k :]
    return train, val


# The public names above, computed by scripts/export.py.
__all__ = [
    "TokenArray",
    "token_dtype",
    "lookup_table",
    "encode_chars",
    "file_vocabulary",
    "token_cache_folder",
    "corpus_sha256",
    "corpus_id",
    "load_tokens",
]
