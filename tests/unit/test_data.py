"""Chapter 1's exports: the corpus, the tokenizer, batches and the text loader."""

import hashlib
import json

import pytest
import torch

from gptcore.data import (
    VALIDATION_PLAYS,
    CharTokenizer,
    cache_folder,
    check_writable,
    clean_play,
    file_sha256,
    get_batch,
    load_plays,
    load_text,
    play_files,
    shakespeare,
    split_fraction,
    to_dialogue,
    write_atomically,
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


# The plumbing that later chapters share.


def test_write_atomically_swaps_the_new_file_in(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("old")
    write_atomically(path, lambda tmp: tmp.write_text("new"))
    assert path.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == [
        "file.txt"
    ]


def test_write_atomically_keeps_the_old_file_when_the_write_fails(tmp_path):
    path = tmp_path / "file.txt"
    path.write_text("old")

    def half(tmp):
        tmp.write_text("ne")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(path, half)
    assert path.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_the_cache_folder_is_the_argument_else_the_variable_else_home(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("GPTCORE_CACHE", str(tmp_path / "env"))
    assert cache_folder(tmp_path / "given") == tmp_path / "given"
    assert cache_folder() == tmp_path / "env"
    monkeypatch.setenv("GPTCORE_CACHE", "")
    assert cache_folder() == cache_folder("~/.cache/gptcore").expanduser()


def test_a_download_and_the_token_cache_share_the_cache_folder(tmp_path, monkeypatch):
    from gptcore.tokens import token_cache_folder

    monkeypatch.setenv("GPTCORE_CACHE", str(tmp_path))
    assert token_cache_folder().parent == cache_folder()


def test_file_sha256_is_hashlibs(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc" * 1000)
    assert file_sha256(path) == hashlib.sha256(b"abc" * 1000).hexdigest()


def test_check_writable_names_the_folder_and_the_fix(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="cannot write to the output .*a-file.*: fix"):
        check_writable(blocker / "sub", "the output", "fix")


@pytest.mark.parametrize(
    "corpus, fraction, expected", [("plays", None, None), ("a.txt", None, 0.1)]
)
def test_split_fraction_defaults(corpus, fraction, expected):
    assert split_fraction(corpus, fraction) == expected


@pytest.mark.parametrize("fraction", [0, 1, "0.1", True])
def test_split_fraction_refuses_a_share_outside_0_and_1(fraction):
    with pytest.raises(ValueError, match="between 0 and 1"):
        split_fraction("a.txt", fraction)
