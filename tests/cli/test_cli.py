"""Tests for the command `gptcore` (`gptcore train`, `gptcore sample`,
`python -m gptcore ...`)."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gptcore
from gptcore.checkpoint import load_checkpoint
from gptcore.cli import sample as sample_command
from gptcore.cli import train as train_command
from gptcore.model import GPTConfig
from gptcore.training import TrainConfig

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cli():
    """The two command modules, imported in-process (fast), for the tests that call
    their main()."""
    return train_command, sample_command


def command(*args: str) -> list[str]:
    """`python -m gptcore ARGS...`: what the `gptcore` console script runs."""
    return [sys.executable, "-m", "gptcore", *args]


def environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}


def log_of(folder: Path, name: str = "tiny") -> list[dict]:
    return [
        json.loads(line)
        for line in (folder / f"{name}.log.jsonl").read_text().splitlines()
    ]


def losses(log: list[dict]) -> list[float]:
    return [entry["loss"] for entry in log if "loss" in entry]


def test_the_documented_command_reproduces_the_course_checkpoint_first_losses(tmp_path):
    """checkpoints/course.pt was made by
    `gptcore train --preset course --out checkpoints`."""
    committed = load_checkpoint(ROOT / "checkpoints" / "course.pt")
    subprocess.run(
        command(
            "train",
            "--preset",
            "course",
            "--out",
            str(tmp_path),
            "--stop-after",
            "3",
            "--no-progress",
        ),
        cwd=ROOT,
        env=environment(),
        check=True,
        capture_output=True,
    )
    ours = load_checkpoint(tmp_path / "course.pt")
    assert GPTConfig(**ours["config"]) == GPTConfig(
        **committed["config"]
    )  # fields added later: defaults
    assert TrainConfig(**ours["train_config"]) == TrainConfig(
        **committed["train_config"]
    )  # fields added later (grad_accum, dtype): defaults
    assert ours["tokenizer"] == committed["tokenizer"]
    torch.testing.assert_close(
        torch.tensor(losses(log_of(tmp_path, "course"))),
        torch.tensor(committed["history"]["loss"][:3]),
        rtol=1e-5,
        atol=1e-5,
    )


def test_a_killed_run_resumes_with_the_same_losses_step_for_step(tmp_path, corpus):
    flags = [
        "--preset",
        "tiny",
        "--corpus",
        str(corpus),
        "--steps",
        "200",
        "--eval-interval",
        "25",
        "--no-progress",
    ]
    straight = subprocess.run(
        command("train", *flags, "--out", str(tmp_path / "straight")),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
    )
    assert straight.returncode == 0, straight.stderr

    killed = subprocess.Popen(
        command("train", *flags, "--out", str(tmp_path / "killed")),
        cwd=ROOT,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in killed.stdout:
        if "saved" in line:  # a checkpoint exists: pull the plug
            killed.send_signal(signal.SIGKILL)
            break
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    stopped_at = load_checkpoint(tmp_path / "killed" / "tiny.pt")["step"]
    assert 25 <= stopped_at < 200  # it really was interrupted part-way

    resumed = subprocess.run(
        command("train", *flags, "--out", str(tmp_path / "killed"), "--resume"),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at step {stopped_at}" in resumed.stdout
    expected, got = log_of(tmp_path / "straight"), log_of(tmp_path / "killed")
    assert len(losses(got)) == 200
    assert (
        got == expected
    )  # every step's loss and learning rate, and every evaluation, exactly


def test_two_processes_match_one_with_the_same_global_batch(tmp_path, corpus):
    flags = [
        "--preset",
        "tiny",
        "--corpus",
        str(corpus),
        "--steps",
        "30",
        "--device",
        "cpu",
        "--no-progress",
    ]
    one = subprocess.run(
        command("train", *flags, "--out", str(tmp_path / "one")),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
    )
    torchrun = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
    ]
    two = subprocess.run(
        [*torchrun, "-m", "gptcore", "train", *flags, "--out", str(tmp_path / "two")],
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
    )
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    assert "x 2 processes" in two.stdout
    (corpus_a, *a), (corpus_b, *b) = log_of(tmp_path / "one"), log_of(tmp_path / "two")
    assert corpus_a == corpus_b and corpus_a["corpus"] == str(corpus)
    assert [sorted(e) for e in a] == [sorted(e) for e in b]
    torch.testing.assert_close(
        torch.tensor([v for e in b for v in e.values()], dtype=torch.float64),
        torch.tensor([v for e in a for v in e.values()], dtype=torch.float64),
        rtol=1e-4,
        atol=1e-5,
    )
    assert sorted(os.listdir(tmp_path / "two")) == [
        "tiny.log.jsonl",
        "tiny.pt",
    ]  # rank 0 wrote, once
    assert (
        two.stdout.count("parameters") == 1
        and two.stdout.count("saved") == one.stdout.count("saved") == 3
    )


def test_clear_errors(cli, corpus, tmp_path, capsys, monkeypatch, error):
    train, _ = cli
    tiny = ["--preset", "tiny", "--corpus", str(corpus), "--no-progress"]
    assert "invalid choice: 'huge'" in error(["--preset", "huge"])
    assert "no such text file" in error(["--corpus", str(tmp_path / "missing.txt")])
    assert "needs its expected sha256" in error(
        ["--corpus", "https://example.com/t.txt"]
    )
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert "cannot write to the output folder" in error(
        tiny + ["--out", str(blocker / "x")]
    )
    assert "not divisible by n_head=3" in error(tiny + ["--n-head", "3"])

    assert (
        train.main(
            tiny
            + ["--out", str(tmp_path / "run"), "--steps", "6", "--eval-interval", "3"]
        )
        == 0
    )
    run = ["--out", str(tmp_path / "run"), "--steps", "6", "--eval-interval", "3"]
    assert "already exists: add --resume" in error(tiny + run)
    message = error(tiny + run + ["--resume", "--n-embd", "64"])
    assert (
        "made for another model: n_embd=32 in the checkpoint but 64 in the model"
        in message
    )
    assert "another recipe (lr=0.005 in the checkpoint but 0.01 now)" in error(
        tiny + run + ["--resume", "--lr", "0.01"]
    )
    lowercase = tmp_path / "lower.txt"
    lowercase.write_text(corpus.read_text(encoding="utf-8").lower(), encoding="utf-8")
    assert "was trained on another text than" in error(
        ["--preset", "tiny", "--corpus", str(lowercase)] + run + ["--resume"]
    )
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert "cannot be split evenly among 3 processes" in error(
        tiny + ["--out", str(tmp_path / "w")]
    )


def test_resume_without_a_checkpoint_says_so(cli, corpus, tmp_path, capsys, error):
    train, _ = cli
    message = error(
        [
            "--preset",
            "tiny",
            "--corpus",
            str(corpus),
            "--out",
            str(tmp_path),
            "--resume",
        ]
    )
    assert "there is no" in message and "leave out --resume" in message


def test_flags_win_over_the_preset_and_the_preset_over_the_defaults(cli):
    train, _ = cli
    args = train.build_parser().parse_args(
        ["--preset", "tiny", "--n-embd", "48", "--lr", "0.01", "--bias", "false"]
    )
    config, recipe = train.configs_from_args(args, vocab_size=50)
    assert (config.n_embd, config.n_layer, config.bias, config.vocab_size) == (
        48,
        2,
        False,
        50,
    )
    assert (recipe.lr, recipe.steps, recipe.weight_decay) == (0.01, 40, 0.1)
    course_model, course_recipe = train.configs_from_args(
        train.build_parser().parse_args([]), vocab_size=67
    )
    assert (
        course_model == gptcore.GPTConfig(vocab_size=67)
        and course_recipe == gptcore.TrainConfig()
    )


def test_sample_command(cli, corpus, tmp_path, capsys, error):
    train, sample = cli
    train.main(
        [
            "--preset",
            "tiny",
            "--corpus",
            str(corpus),
            "--out",
            str(tmp_path),
            "--steps",
            "5",
            "--no-progress",
        ]
    )
    capsys.readouterr()
    flags = [
        "--checkpoint",
        str(tmp_path / "tiny.pt"),
        "--prompt",
        "VIOLA:\n",
        "--length",
        "50",
        "--seed",
        "3",
    ]
    for extra in ([], ["--no-cache"], ["--top-k", "5"], ["--temperature", "0"]):
        assert sample.main(flags + extra) == 0
        text = capsys.readouterr().out
        assert text.startswith("VIOLA:\n") and len(text) == len("VIOLA:\n") + 50 + 1
    sample.main(flags)
    first = capsys.readouterr().out
    sample.main(flags)
    assert capsys.readouterr().out == first
    assert "vocabulary" in error(flags + ["--prompt", "¿"], sample.main)
    assert "temperature" in error(flags + ["--temperature", "-1"], sample.main)
    assert "no checkpoint at" in error(
        ["--checkpoint", str(tmp_path / "none.pt")], sample.main
    )


def test_the_console_script_and_the_module_are_one_command():
    for program in (["gptcore"], [sys.executable, "-m", "gptcore"]):
        done = subprocess.run([*program, "--help"], capture_output=True, text=True)
        assert (
            done.returncode == 0
            and "gptcore train" in done.stdout
            and "gptcore sample" in done.stdout
        )
        wrong = subprocess.run([*program, "trian"], capture_output=True, text=True)
        assert wrong.returncode == 2 and "unknown command 'trian'" in wrong.stderr
    assert gptcore.cli.main([]) == 2


def test_the_commands_do_not_shadow_the_library():
    import gptcore.cli.train  # noqa: F401

    assert gptcore.train.__module__ == "gptcore.training"
    assert gptcore.generate.__module__ == "gptcore.generation"


def test_the_commands_run_as_modules():
    done = subprocess.run(
        command("sample", "--length", "20", "--prompt", "ROMEO:"),
        cwd=ROOT,
        env=environment(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.startswith("ROMEO:") and len(done.stdout) == len("ROMEO:") + 20 + 1
    )
    assert "Warning" not in done.stderr


def test_resume_takes_the_model_and_recipe_from_the_checkpoint(
    cli, corpus, tmp_path, capsys
):
    train, _ = cli
    flags = [
        "--preset",
        "tiny",
        "--corpus",
        str(corpus),
        "--n-embd",
        "16",
        "--steps",
        "8",
        "--eval-interval",
        "4",
        "--no-progress",
    ]
    train.main(flags + ["--out", str(tmp_path / "straight")])
    train.main(flags + ["--out", str(tmp_path / "stopped"), "--stop-after", "5"])
    train.main(
        [
            "--corpus",
            str(corpus),
            "--out",
            str(tmp_path / "stopped"),
            "--name",
            "tiny",
            "--resume",
            "--no-progress",
        ]
    )
    assert "resuming at step 5" in capsys.readouterr().out
    assert log_of(tmp_path / "stopped") == log_of(tmp_path / "straight")
    assert load_checkpoint(tmp_path / "stopped" / "tiny.pt")["config"]["n_embd"] == 16
