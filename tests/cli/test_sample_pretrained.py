"""`gptcore sample --pretrained NAME` (issue 14, item 6), tested offline.

The test makes its own Hugging Face checkpoint and tokenizer: a tiny GPT-2 with random
weights, and a byte-level BPE tokenizer trained on a few sentences, both saved with
`save_pretrained` into a temporary folder. Nothing is downloaded.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import torch  # noqa: E402
from tokenizers import ByteLevelBPETokenizer  # noqa: E402
from transformers import (  # noqa: E402
    GPT2Config,
    GPT2LMHeadModel,
    PreTrainedTokenizerFast,
)

from gptcore.cli import sample as sample_command  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SENTENCES = [
    "Hello, world. Hello again, and hello once more.",
    "The quick brown fox jumps over the lazy dog.",
    "To be, or not to be: that is the question.",
    "All the world's a stage, and all the men and women merely players.",
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """A tiny GPT-2 checkpoint with its own tokenizer, as a hub repository has them."""
    path = tmp_path_factory.mktemp("tiny-gpt2")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        SENTENCES, vocab_size=300, min_frequency=1, special_tokens=["<|endoftext|>"]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer,
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
    )
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=16,  # short: the window slides during the test
        n_embd=32,
        n_layer=2,
        n_head=4,
        bos_token_id=None,
        eos_token_id=None,
    )
    GPT2LMHeadModel(config).save_pretrained(path)
    assert (path / "config.json").is_file() and (path / "model.safetensors").is_file()
    assert (path / "tokenizer.json").is_file()
    return path


def run(*flags: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "gptcore", "sample", *flags],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )


def test_sample_pretrained_prints_the_prompt_and_its_continuation(folder):
    done = run("--pretrained", str(folder), "--prompt", "Hello", "--length", "30")
    assert done.returncode == 0, done.stderr
    text = done.stdout.removesuffix("\n")
    assert text.startswith("Hello") and len(text) > len("Hello")
    again = run("--pretrained", str(folder), "--prompt", "Hello", "--length", "30")
    assert again.stdout == done.stdout  # the same seed, the same text


def test_the_length_counts_tokens_of_the_models_tokenizer(folder, capsys):
    tokenizer = PreTrainedTokenizerFast.from_pretrained(folder)
    flags = ["--pretrained", str(folder), "--prompt", "Hello", "--seed", "3"]
    for extra in ([], ["--no-cache"], ["--temperature", "0"], ["--top-k", "5"]):
        assert sample_command.main(flags + ["--length", "20"] + extra) == 0
        text = capsys.readouterr().out.removesuffix("\n")
        ids = tokenizer.encode(text)
        assert text.startswith("Hello") and len(ids) >= 20  # prompt + 20 new tokens


def test_pretrained_and_checkpoint_are_mutually_exclusive(folder):
    done = run("--pretrained", str(folder), "--checkpoint", "checkpoints/course.pt")
    assert done.returncode == 2 and done.stdout == ""
    assert "--pretrained" in done.stderr and "not allowed with" in done.stderr


def test_a_missing_model_is_one_clear_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        sample_command.main(["--pretrained", str(tmp_path)])
    assert exit.value.code == 2
    assert "no config.json in" in capsys.readouterr().err


def test_without_transformers_the_error_says_what_to_install(
    folder, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import fails
    with pytest.raises(SystemExit) as exit:
        sample_command.main(["--pretrained", str(folder)])
    assert exit.value.code == 2
    assert "pip install gptcore[hf]" in capsys.readouterr().err


def test_the_help_shows_the_flag():
    done = run("--help")
    assert done.returncode == 0 and "--pretrained NAME" in done.stdout
