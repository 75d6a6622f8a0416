"""The training command's later flags: gradient accumulation and precision, sub-word
tokens, fine-tuning from a checkpoint with or without LoRA; and both commands from a
folder outside the repository."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import gptcore.cli
from gptcore.checkpoint import load_checkpoint, load_model
from gptcore.cli import train as train_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus) -> Path:
    """A tiny model trained on the corpus: the base that the fine-tuning tests adapt."""
    out = tmp_path_factory.mktemp("base")
    train_command.main(tiny(corpus) + ["--out", str(out)])
    return out / "tiny.pt"


def tiny(corpus: Path, *more: str) -> list[str]:
    return [
        "--preset",
        "tiny",
        "--corpus",
        str(corpus),
        "--steps",
        "10",
        "--eval-interval",
        "5",
        "--no-progress",
        *more,
    ]


def test_accumulation_and_bfloat16_from_the_command_line(corpus, tmp_path):
    train_command.main(tiny(corpus, "--out", str(tmp_path / "one")))
    train_command.main(
        tiny(corpus, "--out", str(tmp_path / "acc"), "--grad-accum", "4")
    )
    one = load_checkpoint(tmp_path / "one" / "tiny.pt")
    acc = load_checkpoint(tmp_path / "acc" / "tiny.pt")
    assert acc["train_config"]["grad_accum"] == 4
    torch.testing.assert_close(
        torch.tensor(acc["history"]["loss"]),
        torch.tensor(one["history"]["loss"]),
        rtol=0,
        atol=1e-5,
    )
    train_command.main(
        tiny(corpus, "--out", str(tmp_path / "bf"), "--dtype", "bfloat16")
    )
    bf = load_checkpoint(tmp_path / "bf" / "tiny.pt")
    assert bf["train_config"]["dtype"] == "bfloat16"
    assert (
        max(abs(a - b) for a, b in zip(bf["history"]["loss"], one["history"]["loss"]))
        < 0.05
    )


def test_bpe_tokens_train_and_sample(corpus, tmp_path, capsys):
    out = tmp_path / "bpe"
    train_command.main(
        tiny(corpus, "--out", str(out), "--tokenizer", "bpe", "--vocab-size", "300")
    )
    model, tokenizer = load_model(out / "tiny.pt")
    assert tokenizer.to_dict()["type"] == "bpe" and tokenizer.vocab_size == 300
    assert model.config.vocab_size == 300
    from gptcore.cli import sample as sample_command

    capsys.readouterr()
    sample_command.main(["--checkpoint", str(out / "tiny.pt"), "--length", "20"])
    assert capsys.readouterr().out.startswith("\n")


def test_fine_tuning_with_lora_saves_a_plain_merged_model(trained, corpus, tmp_path):
    out = tmp_path / "tuned"
    train_command.main(
        tiny(corpus, "--out", str(out), "--init-from", str(trained), "--lora-rank", "2")
    )
    base, _ = load_model(trained)
    tuned, tokenizer = load_model(out / "tiny.pt")  # a plain GPT: the adapters merged
    assert tuned.config == base.config
    changed = [
        name
        for name, p in tuned.state_dict().items()
        if not torch.equal(p, base.state_dict()[name])
    ]
    assert changed and all("attn" in name for name in changed)  # only adapted layers
    full = tmp_path / "full"
    train_command.main(tiny(corpus, "--out", str(full), "--init-from", str(trained)))
    assert load_checkpoint(full / "tiny.pt")["optimizer"] is not None


def test_fine_tuning_errors(trained, corpus, tmp_path, capsys, error):
    start = ["--init-from", str(trained)]
    out = ["--out", str(tmp_path / "x")]
    accents = tmp_path / "accents.txt"
    accents.write_text("Ça, c'est déjà l'été.\n" * 50, encoding="utf-8")
    assert "made with another vocabulary" in error(
        ["--preset", "tiny", "--corpus", str(accents), *start, *out]
    )
    assert "above" in error(tiny(corpus, *start, *out, "--lora-rank", "33"))
    assert "rank" in error(tiny(corpus, *start, *out, "--lora-rank", "0"))
    assert "name no linear layer" in error(
        tiny(corpus, *start, *out, "--lora-rank", "2", "--lora-targets", "nowhere")
    )
    assert "leave out the model's flags" in error(
        tiny(corpus, *start, *out, "--n-embd", "64")
    )
    assert "give it with --init-from" in error(tiny(corpus, *out, "--lora-rank", "2"))
    assert "give one of them" in error(tiny(corpus, *start, *out, "--resume"))
    assert "no checkpoint at" in error(
        tiny(corpus, "--init-from", str(tmp_path / "none.pt"), *out)
    )


def test_other_flag_errors(corpus, tmp_path, capsys, error):
    out = ["--out", str(tmp_path / "y")]
    assert "needs --vocab-size" in error(tiny(corpus, *out, "--tokenizer", "bpe"))
    assert "is for --tokenizer bpe" in error(tiny(corpus, *out, "--vocab-size", "300"))
    assert "multiple of grad_accum" in error(tiny(corpus, *out, "--grad-accum", "3"))
    assert "one of float32, bfloat16, float16" in error(
        tiny(corpus, *out, "--dtype", "half")
    )
    assert "finite" in error(tiny(corpus, *out, "--lr", "inf"))
    assert "finite" in error(tiny(corpus, *out, "--min-lr", "nan"))
    assert "does not apply to them" in error(
        ["--preset", "tiny", "--val-fraction", "0.2", *out]
    )


def test_both_commands_work_from_a_folder_outside_the_repository(tmp_path):
    def gptcore(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "gptcore", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
        )

    sampled = gptcore("sample", "--length", "30", "--prompt", "ROMEO:")
    assert sampled.returncode == 0, sampled.stderr
    assert sampled.stdout.startswith("ROMEO:") and len(sampled.stdout) == 6 + 30 + 1
    trained = gptcore(
        "train", "--preset", "tiny", "--steps", "6", "--eval-interval", "3",
        "--no-progress",
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    assert (tmp_path / "runs" / "tiny.pt").is_file()


def test_processes_times_micro_batches_must_divide_the_batch(
    corpus, tmp_path, capsys, monkeypatch, error
):
    monkeypatch.setenv("WORLD_SIZE", "2")
    message = error(tiny(corpus, "--out", str(tmp_path), "--grad-accum", "8"))
    assert "among 2 processes of 8 micro-batches each: use a multiple of 16" in message


def test_a_hurried_users_mistakes_are_refused_before_any_training(
    trained, corpus, tmp_path, capsys, monkeypatch, error
):
    out = ["--out", str(tmp_path / "z")]
    for name in ("sub/model", "x.pt", ".."):
        assert "give a plain name" in error(tiny(corpus, *out, "--name", name))
    for step in ("0", "-1"):
        assert "a step of 1 or more" in error(tiny(corpus, *out, "--stop-after", step))
    start = ["--init-from", str(trained), "--lora-rank", "2"]
    assert "--lora-targets is empty" in error(
        tiny(corpus, *out, *start, "--lora-targets", " ")
    )
    assert "train it in one go" in error(
        tiny(corpus, *out, *start, "--stop-after", "5")
    )
    assert "--resume continues with the run's own tokenizer" in error(
        tiny(corpus, *out, "--resume", "--tokenizer", "bpe", "--vocab-size", "300")
    )
    assert "--out is empty" in error(tiny(corpus, "--out", ""))
    assert "hold out more with --val-fraction" in error(
        tiny(corpus, *out, "--val-fraction", "0.0005")
    )
    # a value the user never typed: the message names the preset and the flag
    assert "(warmup_steps=5 from the preset tiny: set --warmup-steps)" in error(
        tiny(corpus, *out, "--steps", "3")
    )
    monkeypatch.setenv("WORLD_SIZE", "two")
    assert "WORLD_SIZE='two'" in error(tiny(corpus, *out))
    assert not (tmp_path / "z" / "tiny.pt").exists()


def test_a_second_run_into_the_same_files_fails_at_once(
    corpus, tmp_path, capsys, error
):
    path = tmp_path / "tiny.pt"
    stale = tmp_path / ".tiny.pt.abc123.tmp"
    with train_command._claim(path, tmp_path / "tiny.log.jsonl"):  # the other run
        stale.write_bytes(b"half a checkpoint")  # what a run killed while saving leaves
        assert "another run is writing" in error(tiny(corpus, "--out", str(tmp_path)))
        assert stale.exists()  # the other run's, maybe: left alone
    train_command.main(tiny(corpus, "--out", str(tmp_path)))
    assert path.is_file() and not stale.exists()
    assert not (tmp_path / "tiny.pt.lock").exists()


def test_a_diverged_run_is_not_saved(corpus, tmp_path, capsys, error):
    message = error(tiny(corpus, "--out", str(tmp_path), "--lr", "1e9"))
    assert "training diverged" in message and "Lower --lr" in message
    assert not (tmp_path / "tiny.pt").exists()


def test_ctrl_c_says_what_is_on_disk(corpus, tmp_path, capsys, monkeypatch):
    real_train = train_command.train

    def interrupted(*args, **kwargs):
        real_train(*args, **{**kwargs, "until": 5})  # saves step 5, then Ctrl-C
        raise KeyboardInterrupt

    monkeypatch.setattr(train_command, "train", interrupted)
    assert train_command.main(tiny(corpus, "--out", str(tmp_path))) == 130
    path = tmp_path / "tiny.pt"
    assert f"interrupted; {path} holds step 5: continue with --resume" in (
        capsys.readouterr().err
    )


def test_a_fine_tuning_run_resumes_on_its_own_text(trained, corpus, tmp_path):
    other = tmp_path / "other.txt"  # a text with fewer characters than the base's
    other.write_text(corpus.read_text(encoding="utf-8").lower(), encoding="utf-8")
    run = tiny(other, "--out", str(tmp_path / "ft"))
    train_command.main(run + ["--init-from", str(trained), "--stop-after", "5"])
    train_command.main(run + ["--resume"])
    straight = tmp_path / "straight"
    train_command.main(tiny(other, "--out", str(straight), "--init-from", str(trained)))
    resumed = load_checkpoint(tmp_path / "ft" / "tiny.pt")
    assert resumed["step"] == 10
    assert resumed["history"] == load_checkpoint(straight / "tiny.pt")["history"]
    first = (tmp_path / "ft" / "tiny.log.jsonl").read_text().splitlines()[0]
    assert json.loads(first) == {
        "corpus": str(other),
        "sha256": hashlib.sha256(other.read_bytes()).hexdigest(),
    }


def test_paths_with_a_tilde_and_a_checksum_in_capitals(corpus, tmp_path, monkeypatch):
    import hashlib

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "text.txt").write_bytes(corpus.read_bytes())
    digest = hashlib.sha256(corpus.read_bytes()).hexdigest().upper()
    train_command.main(
        tiny(Path("~/text.txt"), "--out", "~/runs", "--sha256", f"sha256:{digest}")
    )
    assert (tmp_path / "runs" / "tiny.pt").is_file()


def test_sampling_mistakes(tmp_path, capsys):
    from gptcore.cli import sample as sample_command

    lines = tmp_path / "one-line.txt"
    lines.write_text("to be or not to be " * 100, encoding="utf-8")
    train_command.main(tiny(lines, "--out", str(tmp_path)))
    with pytest.raises(SystemExit):
        sample_command.main(["--checkpoint", str(tmp_path / "tiny.pt")])
    assert "the default prompt, a new line, is not in this model's vocabulary" in (
        capsys.readouterr().err
    )
    pytest.importorskip("transformers")
    with pytest.raises(SystemExit):
        (tmp_path / "config.json").write_text("{}")  # a model folder, no tokenizer
        sample_command.main(["--pretrained", str(tmp_path)])
    assert "has no tokenizer" in capsys.readouterr().err


def test_a_checkpoint_without_its_recipe_cannot_be_resumed(
    corpus, tmp_path, capsys, error
):
    from gptcore.checkpoint import save_checkpoint

    model, tokenizer = load_model(ROOT / "checkpoints" / "course.pt")
    save_checkpoint(tmp_path / "tiny.pt", model, tokenizer)  # no train_config
    assert "holds no training recipe" in error(
        tiny(corpus, "--out", str(tmp_path), "--resume")
    )


# The command in steps: parse, plan, execute.


def test_the_plan_settles_the_run_without_training(corpus, tmp_path):
    args = train_command.build_parser().parse_args(
        tiny(corpus, "--out", str(tmp_path), "--n-embd", "48")
    )
    plan = train_command.plan_run(args)
    assert (plan.config.n_embd, plan.config.n_layer, plan.recipe.steps) == (48, 2, 10)
    assert plan.path == tmp_path / "tiny.pt" and not plan.path.exists()


def test_the_plan_names_the_text_by_its_sha256(corpus, tmp_path):
    args = train_command.build_parser().parse_args(tiny(corpus, "--out", str(tmp_path)))
    plan = train_command.plan_run(args)
    digest = hashlib.sha256(corpus.read_bytes()).hexdigest()
    assert plan.corpus == {"corpus": str(corpus), "sha256": digest}


def test_a_fine_tuning_run_blames_the_preset_for_the_presets_value(
    trained, corpus, tmp_path, capsys, error
):
    message = error(
        tiny(corpus, "--init-from", str(trained), "--out", str(tmp_path))
        + ["--steps", "3"]
    )
    assert "warmup_steps=5 from the preset tiny" in message
    assert "checkpoint" not in message


def test_a_resumed_run_blames_the_checkpoint_for_its_value(
    corpus, tmp_path, capsys, error
):
    out = ["--out", str(tmp_path)]
    train_command.main(tiny(corpus, *out, "--stop-after", "2"))
    message = error(tiny(corpus, *out, "--resume", "--min-lr", "1"))
    assert "lr=0.005 from the checkpoint: set --lr" in message


def test_device_takes_a_numbered_gpu():
    args = train_command.build_parser().parse_args(["--device", "cuda:1"])
    assert args.device == "cuda:1"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_numbered_gpu_on_a_machine_without_one_is_one_clear_line(
    corpus, tmp_path, capsys, error
):
    message = error(tiny(corpus, "--out", str(tmp_path), "--device", "cuda:1"))
    assert "device 'cuda:1': PyTorch sees no cuda device on this machine" in message


def test_an_unknown_device_is_named(corpus, tmp_path, capsys, error):
    message = error(tiny(corpus, "--out", str(tmp_path), "--device", "tpu9"))
    assert "unknown device 'tpu9'" in message


def test_the_model_flags_are_the_fields_of_the_variants_config():
    parser = train_command.build_parser()
    flags = {a.dest for a in parser._actions}
    assert set(train_command.model_fields()) <= flags
    assert "vocab_size" not in train_command.model_fields()


def test_the_command_table_builds_the_usage():
    for name, (module, about) in gptcore.cli.COMMANDS.items():
        assert f"gptcore {name}" in gptcore.cli.USAGE and about in gptcore.cli.USAGE
        assert module.startswith("gptcore.cli.")


def test_an_unknown_command_lists_every_command(capsys):
    assert gptcore.cli.main(["serve"]) == 2
    assert "choose train or sample or chat" in capsys.readouterr().err


def test_the_command_runs_the_module_its_table_names(monkeypatch):
    import gptcore.cli.sample

    ran = []
    monkeypatch.setitem(
        gptcore.cli.COMMANDS, "echo", ("gptcore.cli.sample", "a command")
    )
    monkeypatch.setattr(gptcore.cli.sample, "main", lambda argv: ran.append(argv) or 0)
    assert gptcore.cli.main(["echo", "--x"]) == 0 and ran == [["--x"]]


def test_the_train_command_imports_no_later_chapter():
    code = (
        "import sys, gptcore.cli.train; "
        "print(sorted(m for m in sys.modules if m.startswith('gptcore')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    for later in ("generation", "gpt2", "pretrained", "bpe", "lora", "cli.sample"):
        assert f"'gptcore.{later}'" not in done.stdout, later


def test_a_variant_flag_builds_the_variants_config_and_model():
    from gptcore.checkpoint import model_for, variant_classes

    args = train_command.build_parser().parse_args(
        ["--preset", "tiny", "--n-kv-head", "1"]
    )
    config, _ = train_command.configs_from_args(args, vocab_size=50)
    variant, variant_model = variant_classes()
    assert type(config) is variant and type(model_for(config)) is variant_model


def test_without_variant_flags_the_model_is_chapter_8s():
    from gptcore.model import GPT, GPTConfig

    args = train_command.build_parser().parse_args(["--preset", "tiny"])
    config, _ = train_command.configs_from_args(args, vocab_size=50)
    assert type(config) is GPTConfig and type(train_command.model_for(config)) is GPT
