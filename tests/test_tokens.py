"""Tokens on disk (gptcore.tokens): the same ids and batches as chapter 1's path, a
cache written once and reused, and clear errors."""

import os

import numpy as np
import pytest
import torch

from gptcore.data import CharTokenizer, get_batch, load_corpus
from gptcore.tokens import (
    TokenArray,
    cached_tokens,
    encode_chars,
    file_vocabulary,
    token_dtype,
)

TEXT = "To be, or not to be: thät is the quéstion 😀\u0301\n" * 400


@pytest.fixture()
def text_file(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_the_narrowest_type_holds_every_id():
    assert [token_dtype(n) for n in (1, 256, 257, 65_536, 65_537)] == [
        np.uint8,
        np.uint8,
        np.uint16,
        np.uint16,
        np.uint32,
    ]


def test_the_table_encodes_as_the_loop_does():
    tokenizer = CharTokenizer.from_text(TEXT)
    assert encode_chars(TEXT, tokenizer).tolist() == tokenizer.encode(TEXT)
    with pytest.raises(ValueError, match="outside the vocabulary: \\['Z'\\]"):
        encode_chars("Zeb", tokenizer)


def test_a_file_gives_load_corpus_split_and_the_same_batches(tmp_path, text_file):
    tokenizer, train, val = cached_tokens(str(text_file), cache_dir=tmp_path / "c")
    train_text, val_text = load_corpus(str(text_file))
    simple = CharTokenizer.from_text(train_text + val_text)
    assert tokenizer.to_dict() == simple.to_dict()
    assert file_vocabulary(text_file) == (simple.vocab, len(TEXT))
    assert train.array.dtype == np.uint8 and len(val) == len(val_text)
    data = torch.tensor(simple.encode(train_text))
    a, b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    for _ in range(3):
        for x, y in zip(get_batch(data, 4, 16, a), get_batch(train, 4, 16, b)):
            assert torch.equal(x, y)


def test_small_chunks_change_nothing(tmp_path, text_file, monkeypatch):
    """A chunk boundary inside a multi-byte character is decoded whole."""
    import gptcore.tokens as tokens

    whole = cached_tokens(str(text_file), cache_dir=tmp_path / "a")
    monkeypatch.setattr(tokens, "_CHUNK", 7)
    chunked = cached_tokens(str(text_file), cache_dir=tmp_path / "b")
    assert whole[0].to_dict() == chunked[0].to_dict()
    for x, y in zip(whole[1:], chunked[1:]):
        assert np.array_equal(x.array, y.array)


def test_the_cache_is_written_once_and_reused(tmp_path, text_file):
    cache = tmp_path / "c"
    cached_tokens(str(text_file), cache_dir=cache)
    files = sorted((cache / "tokens").iterdir())
    stamps = [os.stat(f).st_mtime_ns for f in files]
    again = cached_tokens(str(text_file), cache_dir=cache)
    assert sorted((cache / "tokens").iterdir()) == files
    assert [os.stat(f).st_mtime_ns for f in files] == stamps
    assert isinstance(again[1], TokenArray) and not any(
        f.name.endswith(".tmp") for f in files
    )
    text_file.write_text(TEXT + "more", encoding="utf-8")  # another text: another key
    changed = cached_tokens(str(text_file), cache_dir=cache)
    assert len(changed[1]) + len(changed[2]) == len(TEXT) + 4


def test_a_given_tokenizer_is_used_and_checked(tmp_path, text_file):
    wider = CharTokenizer.from_text(TEXT + "XYZ")
    tokenizer, train, _ = cached_tokens(str(text_file), wider, cache_dir=tmp_path)
    assert tokenizer is wider and train[torch.arange(3)].tolist() == wider.encode("To ")
    narrow = CharTokenizer.from_text("To be")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        cached_tokens(str(text_file), narrow, cache_dir=tmp_path)


def test_clear_errors(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        cached_tokens(str(bad), cache_dir=tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        cached_tokens(str(empty), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="does not apply to them"):
        cached_tokens("plays", val_fraction=0.2, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="between 0 and 1"):
        cached_tokens(str(bad), val_fraction=1.5, cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="no such text file"):
        cached_tokens(str(tmp_path / "missing.txt"), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="checksum mismatch"):
        cached_tokens(str(empty), sha256="0" * 64, cache_dir=tmp_path)
