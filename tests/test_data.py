"""Chapter 1's exports: the corpus, the tokenizer, batches and the text loader."""

import hashlib
import json

import pytest
import torch

from gptcore.data import (
    VALIDATION_PLAYS,
    CharTokenizer,
    clean_play,
    get_batch,
    load_plays,
    load_text,
    play_files,
    shakespeare,
    to_dialogue,
)


@pytest.fixture(scope="module")
def corpus():
    return shakespeare()


def test_the_package_ships_38_plays_and_the_held_out_ones_exist():
    names = play_files()
    assert len(names) == 38
    assert set(VALIDATION_PLAYS) <= set(names)


def test_no_play_is_in_both_train_and_validation(corpus):
    train, val = corpus
    plays = load_plays()
    for name, text in plays.items():
        body = text[:2000]
        if name in VALIDATION_PLAYS:
            assert body in val and body not in train, name
        else:
            assert body in train and body not in val, name


def test_cleaning_gives_plain_dialogue():
    md = (
        "# Play\n\n## ACT I\n\n_Enter A and B,\nwith others_\n\n"
        "**A**  \nHello \\- there,  \n"
        "_\\[Aside]_ friend.\n\n_Exit B_\n\nStill A.\n\n**B**  \n*Sings.*\n\nLa la.\n"
    )
    assert clean_play(md) == "A:\nHello - there,\nfriend.\nStill A.\n\nB:\nLa la.\n"
    text, dropped = to_dialogue("## SCENE\nno speaker here\n**C**\nline\n")
    assert text == "C:\nline\n" and dropped == ["no speaker here"]


def test_clean_corpus_has_no_markdown_left(corpus):
    for text in corpus:
        for ch in "_*#[]\\":
            assert ch not in text


def test_tokenizer_round_trip_on_the_whole_corpus(corpus):
    train, val = corpus
    tok = CharTokenizer.from_text(train + val)
    for text in corpus:
        assert tok.decode(tok.encode(text)) == text
    assert tok.decode(torch.tensor(tok.encode("To be"))) == "To be"


def test_tokenizer_names_unknown_characters():
    tok = CharTokenizer.from_text("abc ")
    with pytest.raises(ValueError, match=r"\['x', 'é'\]"):
        tok.encode("a é x")
    with pytest.raises(ValueError, match="outside 0..3"):
        tok.decode([0, 7])


def test_tokenizer_state_is_json(corpus):
    tok = CharTokenizer.from_text("hello world\n")
    state = json.loads(json.dumps(tok.to_dict()))
    assert CharTokenizer.from_dict(state).vocab == tok.vocab
    with pytest.raises(ValueError):
        CharTokenizer.from_dict({"vocab": 3})
    with pytest.raises(ValueError, match="twice"):
        CharTokenizer("aa")
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer("")


def test_batches_have_the_right_shape_and_shift():
    data = torch.arange(100)
    x, y = get_batch(data, 8, 10, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (8, 10) and x.dtype == torch.long
    assert torch.equal(y, x + 1)  # on arange, the next token is the id plus one


def test_batches_are_deterministic_given_a_generator():
    data = torch.randint(0, 50, (1000,), generator=torch.Generator().manual_seed(1))
    a = get_batch(data, 4, 16, torch.Generator().manual_seed(3))
    b = get_batch(data, 4, 16, torch.Generator().manual_seed(3))
    assert all(torch.equal(p, q) for p, q in zip(a, b))


def test_batches_reject_bad_input():
    with pytest.raises(ValueError, match="block_size"):
        get_batch(torch.arange(10), 2, 10)
    with pytest.raises(ValueError, match="1-D"):
        get_batch(torch.zeros(3, 30, dtype=torch.long), 2, 4)
    with pytest.raises(ValueError, match="positive"):
        get_batch(torch.arange(100), 0, 4)


def test_load_text_reads_a_local_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("some text\n", encoding="utf-8")
    assert load_text(path) == "some text\n"
    with pytest.raises(FileNotFoundError, match="no such text file"):
        load_text(tmp_path / "missing.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="not UTF-8"):
        load_text(tmp_path / "latin1.txt")


def test_load_text_checks_the_checksum_of_a_url(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("some text\n", encoding="utf-8")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    assert load_text(path.as_uri(), sha256=digest, cache_dir=cache) == "some text\n"
    path.unlink()  # now it can only come from the cache
    assert load_text(path.as_uri(), sha256=digest, cache_dir=cache) == "some text\n"
    path.write_text("other text\n", encoding="utf-8")
    with pytest.raises(ValueError, match="checksum mismatch"):
        load_text(path.as_uri(), sha256="0" * 64, cache_dir=tmp_path / "cache2")
    assert list((tmp_path / "cache2").iterdir()) == []
    with pytest.raises(ValueError, match="sha256"):
        load_text(path.as_uri())
