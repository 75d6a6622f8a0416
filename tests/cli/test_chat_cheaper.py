"""`gptcore chat --quantize` and `--draft` (chapter 19's flags on chapter 16's chat):
the course chat model answers quantized, greedy speculative replies are the model's own,
a quantized checkpoint chats, and bad drafts end with a clear error."""

import copy
import io
import sys

import pytest
import torch

from gptcore import GPT, GPTConfig
from gptcore.checkpoint import load_model, save_checkpoint
from gptcore.cli import chat as chat_command
from gptcore.cli.sample import course_model
from gptcore.inference import quantize_model

QUESTIONS = [
    "Spell crown backwards.",
    "What is 3 plus 4?",
    "/reset",
    "Count the r in rare.",
]


@pytest.fixture(scope="module")
def chat_model():
    return load_model(course_model("chat.pt"))


def draft_with(tmp_path, tokenizer, block_size: int) -> str:
    """An untrained one-block draft with the given tokenizer and context, saved."""
    torch.manual_seed(0)
    config = GPTConfig(tokenizer.vocab_size, block_size, n_layer=1, n_head=2, n_embd=16)
    return str(save_checkpoint(tmp_path / "draft.pt", GPT(config), tokenizer))


def chat(flags: list[str], monkeypatch, capsys) -> list[str]:
    """The replies of `gptcore chat FLAGS` to QUESTIONS, piped in."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(QUESTIONS) + "\n"))
    assert chat_command.main(flags) == 0
    return capsys.readouterr().out.splitlines()


def test_the_quantized_chat_model_answers_as_the_float_one(monkeypatch, capsys):
    plain = chat([], monkeypatch, capsys)
    assert len(plain) == 3
    assert chat(["--quantize", "int8"], monkeypatch, capsys) == plain
    assert len(chat(["--quantize", "int4"], monkeypatch, capsys)) == 3


def test_greedy_speculative_replies_are_the_model_s_own(
    chat_model, tmp_path, monkeypatch, capsys
):
    model, tokenizer = chat_model
    draft = draft_with(tmp_path, tokenizer, model.config.block_size)
    plain = chat([], monkeypatch, capsys)
    assert chat(["--draft", draft], monkeypatch, capsys) == plain
    sampled = chat(["--draft", draft, "--temperature", "0.8"], monkeypatch, capsys)
    assert len(sampled) == 3


def test_a_quantized_checkpoint_chats(tmp_path, monkeypatch, capsys):
    path = str(tmp_path / "int8.pt")
    quantized = chat(
        ["--quantize", "int8", "--save-quantized", path], monkeypatch, capsys
    )
    assert chat(["--checkpoint", path], monkeypatch, capsys) == quantized


def test_bad_drafts_and_quantizations_are_refused(chat_model, tmp_path, error):
    model, tokenizer = chat_model
    main = chat_command.main
    short = draft_with(tmp_path, tokenizer, model.config.block_size // 2)
    assert "a draft must read the whole conversation" in error(["--draft", short], main)
    other = str(course_model())  # the course model: no chat tokens
    assert "another tokenizer" in error(["--draft", other], main)
    same = draft_with(tmp_path, tokenizer, model.config.block_size)
    assert "drop --top-k" in error(["--draft", same, "--top-k", "3"], main)
    assert "--quantize" in error(["--quantize", "int2"], main)
    path = save_checkpoint(
        tmp_path / "int4.pt", quantize_model(copy.deepcopy(model), 4, 32), tokenizer
    )
    again = ["--checkpoint", str(path), "--quantize", "int8"]
    assert "already quantized" in error(again, main)
