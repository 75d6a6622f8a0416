"""`gptcore sample --quantize` and `--draft` (chapter 19): they run, greedy speculative
sampling prints what the model alone prints, and bad input ends with a clear error."""

import pytest
import torch

from gptcore import GPT, GPTConfig
from gptcore.checkpoint import load_model, save_checkpoint
from gptcore.cli import sample as sample_command
from gptcore.cli.sample import course_model
from gptcore.data import CharTokenizer

GREEDY = ["--prompt", "ROMEO:", "--length", "30", "--temperature", "0"]


@pytest.fixture(scope="module")
def draft(tmp_path_factory):
    """A one-block draft with the course model's tokenizer, untrained."""
    _, tokenizer = load_model(course_model())
    torch.manual_seed(0)
    config = GPTConfig(tokenizer.vocab_size, 64, n_layer=1, n_head=2, n_embd=16)
    path = tmp_path_factory.mktemp("draft") / "draft.pt"
    return save_checkpoint(path, GPT(config), tokenizer)


def run(argv: list[str], capsys) -> str:
    assert sample_command.main(argv) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("bits", ["int8", "int4"])
def test_quantize_samples(bits, capsys):
    out = run([*GREEDY, "--quantize", bits], capsys)
    assert out.startswith("ROMEO:") and len(out) == 6 + 30 + 1


def test_greedy_draft_prints_what_the_model_alone_prints(draft, capsys):
    alone = run(GREEDY, capsys)
    assert run([*GREEDY, "--draft", str(draft)], capsys) == alone
    sampled = run([*GREEDY[:4], "--draft", str(draft), "--quantize", "int8"], capsys)
    assert sampled.startswith("ROMEO:") and len(sampled) == 6 + 30 + 1


def test_bad_drafts_are_refused(draft, tmp_path, error):
    other = save_checkpoint(
        tmp_path / "other.pt",
        GPT(GPTConfig(3, 64, n_layer=1, n_head=2, n_embd=16)),
        CharTokenizer("abc"),
    )
    main = sample_command.main
    assert "tokenizer" in error([*GREEDY, "--draft", str(other)], main)
    too_long = error(["--draft", str(draft)], main)  # 500 > 64 tokens
    assert "context" in too_long and "give --length 63 or less" in too_long
    assert "--top-k" in error([*GREEDY, "--draft", str(draft), "--top-k", "3"], main)
    assert "--quantize" in error([*GREEDY, "--quantize", "int2"], main)


def test_a_quantized_model_is_saved_and_loaded_by_the_commands(tmp_path, capsys, error):
    path = tmp_path / "int8.pt"
    quantized = run(
        [*GREEDY, "--quantize", "int8", "--save-quantized", str(path)], capsys
    )
    model, tokenizer = load_model(course_model())
    float_path = save_checkpoint(tmp_path / "float.pt", model, tokenizer)
    assert path.stat().st_size < float_path.stat().st_size / 2
    assert run([*GREEDY, "--checkpoint", str(path)], capsys) == quantized
    main = sample_command.main
    again = [*GREEDY, "--checkpoint", str(path), "--quantize", "int8"]
    assert "already quantized" in error(again, main)
    alone = [*GREEDY, "--save-quantized", str(tmp_path / "no.pt")]
    assert "the model that --quantize makes" in error(alone, main)
    assert not (tmp_path / "no.pt").exists()
    folder = [*GREEDY, "--quantize", "int8", "--save-quantized", str(tmp_path)]
    assert f"--save-quantized {tmp_path} is a folder" in error(folder, main)
    hub = ["--pretrained", "openai-community/gpt2", "--draft", str(path)]
    assert "work with --checkpoint models" in error(hub, main)  # before any download
