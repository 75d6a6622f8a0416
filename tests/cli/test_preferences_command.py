"""Tests for `gptcore train --dpo` and `--rl` (chapter 17's preferences and rewards,
from the command line), from the committed chat model."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gptcore.chat_tasks import answer_of, make_conversations
from gptcore.checkpoint import load_checkpoint
from gptcore.cli import train as train_command

ROOT = Path(__file__).resolve().parents[2]
CHAT_PT = str(ROOT / "checkpoints" / "chat.pt")
STEPS = ["--steps", "4", "--warmup-steps", "1", "--eval-interval", "2"]
RECIPE = [*STEPS, "--eval-batches", "1", "--batch-size", "8", "--no-progress"]


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> Path:
    """Preference pairs: the right answer, and the right answer of another prompt."""
    prompts = [m[0]["content"] for m in make_conversations(20, 0)]
    records = [
        {"prompt": p, "chosen": answer_of(p), "rejected": answer_of(q)}
        for p, q in zip(prompts, prompts[5:] + prompts[:5])
        if answer_of(p) != answer_of(q)
    ]
    return write_jsonl(tmp_path_factory.mktemp("dpo") / "pairs.jsonl", records)


@pytest.fixture(scope="module")
def prompts(tmp_path_factory) -> Path:
    """Prompts with their reference answers, for the exact-match reward."""
    records = [
        {"prompt": m[0]["content"], "answer": m[1]["content"]}
        for m in make_conversations(20, 1)
    ]
    return write_jsonl(tmp_path_factory.mktemp("rl") / "prompts.jsonl", records)


def run(out: Path, *flags: str) -> dict:
    argv = ["--init-from", CHAT_PT, "--out", str(out), *RECIPE, *flags]
    assert train_command.main(argv) == 0
    return load_checkpoint(out / "model.pt")


def test_dpo_trains_from_a_chat_model(pairs, tmp_path, capsys):
    tuned = run(tmp_path, "--dpo", str(pairs), "--beta", "0.2")
    assert tuned["tokenizer"]["type"] == "chat" and tuned["step"] == 4
    assert abs(tuned["history"]["loss"][0] - 0.6931) < 1e-3  # the policy = reference
    assert "records" in capsys.readouterr().out
    log = (tmp_path / "model.log.jsonl").read_text().splitlines()
    assert json.loads(log[0])["dpo"] == str(pairs)


def test_rl_trains_from_a_chat_model(prompts, tmp_path):
    tuned = run(tmp_path, "--rl", str(prompts), "--group-size", "4", "--kl", "0.1")
    assert tuned["step"] == 4 and len(tuned["history"]["loss"]) == 4


@pytest.mark.parametrize("flag", ["--dpo", "--rl"])
def test_a_stopped_run_resumes_exactly(flag, pairs, prompts, tmp_path):
    data = str(pairs if flag == "--dpo" else prompts)
    extra = [flag, data, "--group-size", "4"]
    whole = run(tmp_path / "whole", *extra)
    parted = tmp_path / "parted"
    run(parted, *extra, "--stop-after", "2")
    assert (
        train_command.main(
            ["--init-from", CHAT_PT, "--resume", "--out", str(parted), *RECIPE, *extra]
        )
        == 0
    )
    resumed = load_checkpoint(parted / "model.pt")
    assert resumed["history"]["loss"] == whole["history"]["loss"]
    for name, weight in whole["model"].items():
        torch.testing.assert_close(resumed["model"][name], weight, rtol=0, atol=0)


def test_bad_flags_are_refused(pairs, prompts, tmp_path, error):
    out = ["--out", str(tmp_path), *RECIPE]
    assert "give it with --init-from" in error(["--dpo", str(pairs), *out])
    both = ["--init-from", CHAT_PT, "--dpo", str(pairs), "--rl", str(prompts), *out]
    assert "--dpo and --rl: give one of them" in error(both)
    beta = ["--init-from", CHAT_PT, "--dpo", str(pairs), "--beta", "0", *out]
    assert "beta must be a finite number above 0" in error(beta)
    group = ["--init-from", CHAT_PT, "--rl", str(prompts), "--group-size", "3", *out]
    assert "not a multiple of --group-size 3" in error(group)
    one = ["--init-from", CHAT_PT, "--rl", str(prompts), "--group-size", "1"]
    assert "group_size must be 2 or more" in error(
        [*one, *out[:2], *RECIPE[:-3], "--batch-size", "2", "--no-progress"]
    )


def test_a_bad_line_is_named(tmp_path, error):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x", "chosen": "a", "rejected": "a"}\n{oops\n')
    argv = ["--init-from", CHAT_PT, "--dpo", str(bad), "--out", str(tmp_path), *RECIPE]
    assert "line 2: not valid JSON" in error(argv)
    same = tmp_path / "same.jsonl"
    same.write_text('{"prompt": "x", "chosen": "a", "rejected": "a"}\n' * 3)
    argv[3] = str(same)
    assert "identical" in error(argv)


def test_a_model_that_does_not_chat_is_refused(pairs, tmp_path, error):
    course = str(ROOT / "checkpoints" / "course.pt")
    argv = ["--init-from", course, "--dpo", str(pairs), "--out", str(tmp_path), *RECIPE]
    assert "is not a chat model" in error(argv)


def test_gptcore_chat_talks_to_the_result(prompts, tmp_path):
    run(tmp_path, "--rl", str(prompts), "--group-size", "4")
    done = subprocess.run(
        [sys.executable, "-m", "gptcore", "chat", "--checkpoint",
         str(tmp_path / "model.pt"), "--max-new-tokens", "8"],
        input="First letter of crown?\n",
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 and "Traceback" not in done.stderr
