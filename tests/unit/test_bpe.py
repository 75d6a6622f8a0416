"""gptcore.bpe: byte-level BPE round-trips any UTF-8 text, saves and loads, and says
what is wrong."""

import json
import random

import pytest
import torch

from gptcore.bpe import BPETokenizer, learn_merges, pretokenize

SAMPLE = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die "
    "than to famish?\n\nAll:\nResolved. resolved.\n"
) * 3


@pytest.fixture(scope="module")
def tokenizer() -> BPETokenizer:
    return BPETokenizer.train(SAMPLE, 300)


def random_text(rng: random.Random, length: int) -> str:
    """Random code points from every plane, with emoji, combining marks, CJK and
    spaces."""
    ranges = [
        (0x20, 0x7E),  # ASCII
        (0xA0, 0x24F),  # Latin-1 and Latin Extended
        (0x300, 0x36F),  # combining diacritical marks
        (0x400, 0x4FF),  # Cyrillic
        (0x4E00, 0x9FFF),  # CJK
        (0xAC00, 0xD7A3),  # Hangul
        (0xE000, 0xFFFD),  # private use and more (no surrogates)
        (0x1F300, 0x1FAFF),  # emoji
        (0x10000, 0x10FFFF),  # every plane above the first
    ]
    chars = []
    for _ in range(length):
        if rng.random() < 0.15:
            chars.append(rng.choice(" \n\t  "))
            continue
        low, high = rng.choice(ranges)
        code = rng.randint(low, high)
        if 0xD800 <= code <= 0xDFFF:  # surrogates have no UTF-8 form
            code = 0x41
        chars.append(chr(code))
    return "".join(chars)


def test_random_utf8_round_trips(tokenizer):
    rng = random.Random(0)
    trained_on_noise = BPETokenizer.train(random_text(rng, 3000), 400)
    for _ in range(200):
        text = random_text(rng, rng.randint(0, 60))
        for tok in (tokenizer, trained_on_noise):
            ids = tok.encode(text)
            assert all(0 <= i < tok.vocab_size for i in ids)
            assert tok.decode(ids) == text


def test_tricky_text_and_the_empty_string(tokenizer):
    for text in [
        "",
        " ",
        "\n\n\n",
        "e\u0301 (e + combining acute) and \u00e9",
        "\U0001f642\U0001f44d\U0001f3fd family: "
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",
        "日本語のテキスト, 한국어, עברית, العربية",
        "tabs\tand   spaces  \n trailing ",
        "don't they'll we've I'm",
    ]:
        assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.encode("") == [] and tokenizer.decode([]) == ""


def test_pieces_join_back_to_the_text():
    rng = random.Random(1)
    for _ in range(100):
        text = random_text(rng, 40)
        assert "".join(pretokenize(text)) == text


def test_training_learns_merges_and_compresses(tokenizer):
    assert tokenizer.vocab_size == 300 == len(tokenizer.merges) + 256
    ids = tokenizer.encode(SAMPLE)
    assert len(ids) < len(SAMPLE.encode("utf-8")) / 2
    assert tokenizer.vocab[tokenizer.encode(" speak")[0]] == b" speak"


def test_training_is_deterministic(tokenizer):
    again = BPETokenizer.train(SAMPLE, 300)
    assert again.merges == tokenizer.merges
    assert again.encode(SAMPLE) == tokenizer.encode(SAMPLE)


def test_ties_go_to_the_larger_pair():
    assert learn_merges("ab cd", 1) == [(ord("c"), ord("d"))]
    assert learn_merges("aaab", 3) == [(97, 97), (256, 97), (257, 98)]


@pytest.mark.parametrize(
    "vocab_size, error, match",
    [
        (256, ValueError, "above 256"),
        (10, ValueError, "above 256"),
        (0, ValueError, "positive"),
        (300.0, TypeError, "int"),
        ("300", TypeError, "int"),
        (True, TypeError, "int"),
    ],
)
def test_bad_vocab_sizes(vocab_size, error, match):
    with pytest.raises(error, match=match):
        BPETokenizer.train(SAMPLE, vocab_size)


def test_running_out_of_pairs_is_an_error():
    with pytest.raises(ValueError, match=r"runs out of pairs.*vocab_size <= 258"):
        BPETokenizer.train("abc", 1000)
    assert BPETokenizer.train("abc", 258).vocab_size == 258
    for text in ("", "a.b\n"):
        with pytest.raises(ValueError, match="no pair of adjacent bytes"):
            BPETokenizer.train(text, 257)
    with pytest.raises(TypeError, match="str"):
        BPETokenizer.train(b"bytes", 300)


def test_a_lone_surrogate_is_a_clear_error(tokenizer):
    with pytest.raises(ValueError, match="lone surrogate"):
        tokenizer.encode("ok \udc80 not ok")
    with pytest.raises(ValueError, match="lone surrogate"):
        BPETokenizer.train("ok \ud800", 300)


def test_save_and_load_give_the_same_encodings(tokenizer):
    state = json.loads(json.dumps(tokenizer.to_dict()))
    assert state["type"] == "bpe"
    loaded = BPETokenizer.from_dict(state)
    assert loaded.merges == tokenizer.merges and loaded.vocab == tokenizer.vocab
    text = random_text(random.Random(2), 500) + SAMPLE
    assert loaded.encode(text) == tokenizer.encode(text)


@pytest.mark.parametrize(
    "change",
    [
        {"type": "char"},
        {"merges": "nope"},
        {"merges": [[97]]},
        {"merges": [[97, 300]]},  # token 300 does not exist yet
        {"merges": [[97, 98], [97, 98]]},  # the same pair twice
        {"merges": [[97.0, 98]]},
        {"pieces": "(.)"},
    ],
)
def test_from_dict_rejects_a_bad_state(tokenizer, change):
    with pytest.raises(ValueError):
        BPETokenizer.from_dict({**tokenizer.to_dict(), **change})
    with pytest.raises(ValueError):
        BPETokenizer.from_dict(["not", "a", "dict"])


def test_decode_checks_its_ids(tokenizer):
    ids = tokenizer.encode("Speak, speak.")
    assert tokenizer.decode(torch.tensor(ids)) == "Speak, speak."
    for bad in ([300], [-1], [1.5]):
        with pytest.raises(ValueError, match="ids outside 0..299"):
            tokenizer.decode(bad)


def test_a_cut_character_decodes_to_the_replacement_character(tokenizer):
    ids = tokenizer.encode("\U0001f642")  # 4 bytes, never merged in SAMPLE
    assert len(ids) == 4
    assert tokenizer.decode(ids[:2]) == "\ufffd"
    assert tokenizer.decode_bytes(ids[:2]) + tokenizer.decode_bytes(ids[2:]) == (
        "\U0001f642".encode()
    )
