"""Tokens on disk (gptcore.tokens): the same ids and batches as chapter 1's path, a
cache written once and reused, and clear errors."""

import os

import numpy as np
import pytest
import torch

from gptcore.data import CharTokenizer, get_batch, load_corpus
from gptcore.tokens import (
    TokenArray,
    encode_chars,
    file_vocabulary,
    load_tokens,
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
    tokenizer, train, val = load_tokens(str(text_file), cache_dir=tmp_path / "c")
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

    whole = load_tokens(str(text_file), cache_dir=tmp_path / "a")
    monkeypatch.setattr(tokens, "_CHUNK", 7)
    chunked = load_tokens(str(text_file), cache_dir=tmp_path / "b")
    assert whole[0].to_dict() == chunked[0].to_dict()
    for x, y in zip(whole[1:], chunked[1:]):
        assert np.array_equal(x.array, y.array)


@pytest.mark.parametrize("chunk", [7, 1 << 24])
@pytest.mark.parametrize("line_end", [b"\r\n", b"\r"])
def test_line_ends_are_read_as_load_corpus_reads_them(
    tmp_path, text_file, monkeypatch, chunk, line_end
):
    """A Windows (CR LF) or old Mac (CR) file gives load_corpus's text and ids, even
    when a chunk ends between CR and LF."""
    import gptcore.tokens as tokens

    monkeypatch.setattr(tokens, "_CHUNK", chunk)
    other = tmp_path / "other.txt"
    other.write_bytes(text_file.read_bytes().replace(b"\n", line_end))
    tokenizer, train, val = load_tokens(str(other), cache_dir=tmp_path / "c")
    train_text, val_text = load_corpus(str(other))
    assert "\r" not in tokenizer.vocab and (train_text + val_text) == TEXT
    assert tokenizer.decode(train.array.tolist()) == train_text
    assert tokenizer.decode(val.array.tolist()) == val_text


def test_the_cache_is_written_once_and_reused(tmp_path, text_file):
    cache = tmp_path / "c"
    load_tokens(str(text_file), cache_dir=cache)
    files = sorted((cache / "tokens").iterdir())
    stamps = [os.stat(f).st_mtime_ns for f in files]
    again = load_tokens(str(text_file), cache_dir=cache)
    assert sorted((cache / "tokens").iterdir()) == files
    assert [os.stat(f).st_mtime_ns for f in files] == stamps
    assert isinstance(again[1], TokenArray) and not any(
        f.name.endswith(".tmp") for f in files
    )
    text_file.write_text(TEXT + "more", encoding="utf-8")  # another text: another key
    changed = load_tokens(str(text_file), cache_dir=cache)
    assert len(changed[1]) + len(changed[2]) == len(TEXT) + 4


def test_a_given_tokenizer_is_used_and_checked(tmp_path, text_file):
    wider = CharTokenizer.from_text(TEXT + "XYZ")
    tokenizer, train, _ = load_tokens(str(text_file), wider, cache_dir=tmp_path)
    assert tokenizer is wider and train[torch.arange(3)].tolist() == wider.encode("To ")
    narrow = CharTokenizer.from_text("To be")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        load_tokens(str(text_file), narrow, cache_dir=tmp_path)


def test_clear_errors(tmp_path):
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="is not UTF-8 text"):
        load_tokens(str(bad), cache_dir=tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="is empty"):
        load_tokens(str(empty), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="does not apply to them"):
        load_tokens("plays", val_fraction=0.2, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="between 0 and 1"):
        load_tokens(str(bad), val_fraction=1.5, cache_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="no such text file"):
        load_tokens(str(tmp_path / "missing.txt"), cache_dir=tmp_path)
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_tokens(str(empty), sha256="0" * 64, cache_dir=tmp_path)


def test_a_copy_that_keeps_the_modification_time_is_read_again(tmp_path):
    path = tmp_path / "text.txt"
    path.write_text("abc\n" * 100, encoding="utf-8")
    os.utime(path, ns=(10**18, 10**18))
    first, _, _ = load_tokens(str(path), cache_dir=tmp_path / "c")
    path.write_text("ABC\n" * 100, encoding="utf-8")  # same size, as `cp -p` leaves it
    os.utime(path, ns=(10**18, 10**18))
    second, _, _ = load_tokens(str(path), cache_dir=tmp_path / "c")
    assert (first.vocab, second.vocab) == ("\nabc", "\nABC")


def test_a_damaged_cache_entry_is_written_again(tmp_path, text_file):
    cache = tmp_path / "c"
    tokenizer, train, _ = load_tokens(str(text_file), cache_dir=cache)
    expected = np.array(
        train.array
    )  # a copy: the damage below truncates the mapped file
    (ids,) = (cache / "tokens").glob("*.ids")
    (meta,) = (cache / "tokens").glob("v1-*.json")
    for damage in (lambda: ids.write_bytes(b""), lambda: meta.write_text("{")):
        damage()
        again = load_tokens(str(text_file), cache_dir=cache)
        assert again[0].to_dict() == tokenizer.to_dict()
        assert np.array_equal(again[1].array, expected)
    (cache / "tokens" / "sha256.json").write_text("not json")
    assert load_tokens(str(text_file), cache_dir=cache)[0].vocab == tokenizer.vocab


def test_an_unwritable_cache_names_gptcore_cache(tmp_path, text_file, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("GPTCORE_CACHE", str(blocker))
    with pytest.raises(ValueError, match="token cache .*: point GPTCORE_CACHE at"):
        load_tokens(str(text_file))


def test_a_chat_tokenizer_reads_endoftext_between_documents_as_its_one_id(tmp_path):
    from gptcore.chat import ChatTokenizer  # chapter 16's special tokens

    documents = ["To be, or not to be.\n", "That is the question.\n"] * 200
    path = tmp_path / "documents.txt"
    path.write_text("<|endoftext|>".join(documents), encoding="utf-8")
    chat = ChatTokenizer(CharTokenizer.from_text("".join(documents)))
    tokenizer, train, val = load_tokens(str(path), chat, val_fraction=0.1,
                                        cache_dir=tmp_path / "c")  # fmt: skip
    ids = np.concatenate([train.array, val.array]).tolist()
    end = chat.special_id("<|endoftext|>")
    assert tokenizer is chat and ids.count(end) == len(documents) - 1
    assert chat.decode(ids) == path.read_text(encoding="utf-8")
    again = load_tokens(str(path), chat, val_fraction=0.1, cache_dir=tmp_path / "c")
    assert np.array_equal(again[1].array, train.array)  # the cache, reused
