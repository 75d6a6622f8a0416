# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/11_command_line.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/11_command_line.ipynb 4
"""`gptcore train`: train a GPT on the plays or on your own text, resumably, on one
device or several."""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import typing
from dataclasses import asdict, fields
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from gptcore.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model,
    resume_state,
    save_checkpoint,
    tokenizer_from_dict,
)
from gptcore.data import OutOfVocabularyError
from gptcore.model import GPT, GPTConfig
from gptcore.tokens import _write_atomically, cached_tokens
from gptcore.training import (
    PRESETS,
    TrainConfig,
    TrainState,
    make_optimizer,
    resolve_device,
    train,
)

_MODEL_FIELDS = [
    f.name for f in fields(GPTConfig) if f.name != "vocab_size"
]  # the vocabulary comes from the text
_TRAIN_FIELDS = [f.name for f in fields(TrainConfig)]


def _parse_bool(text: str) -> bool:
    """'true' or 'false' (any case) as a bool, for flags such as --bias false."""
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() == "true"


def build_parser() -> argparse.ArgumentParser:
    """The command's flags: one per GPTConfig and TrainConfig field, plus the corpus,
    output and device."""
    parser = argparse.ArgumentParser(
        prog="gptcore train", description=__doc__.split(": ", 1)[1]
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS,
        default=None,
        help="named settings of the fields below (default: course)",
    )
    parser.add_argument(
        "--corpus",
        default="plays",
        help="'plays' (Shakespeare, whole plays held out), a UTF-8 text file, "
        "or a URL (with --sha256)",
    )
    parser.add_argument(
        "--sha256", default=None, help="the expected SHA-256 of the corpus file or URL"
    )
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=None,
        help="for a text file or URL: the share of the text, from its end, "
        "held out (default: 0.1)",
    )
    parser.add_argument(
        "--tokenizer",
        choices=["char", "bpe"],
        default="char",
        help="characters (default), or byte-level BPE sub-words (chapter 14)",
    )
    parser.add_argument(
        "--vocab-size",
        type=int,
        default=None,
        help="with --tokenizer bpe: the vocabulary to learn (e.g. 2000)",
    )
    parser.add_argument(
        "--init-from",
        default=None,
        metavar="CHECKPOINT",
        help="fine-tune: start from this trained model, its config and its "
        "tokenizer (chapter 15)",
    )
    parser.add_argument(
        "--lora-rank",
        type=int,
        default=None,
        metavar="R",
        help="with --init-from: train rank-R LoRA adapters only; the checkpoint "
        "holds the merged model",
    )
    parser.add_argument(
        "--lora-targets",
        default=None,
        metavar="NAMES",
        help="with --lora-rank: comma-separated names of the Linear layers to adapt "
        "(default: add_lora's)",
    )
    for title, dataclass, names in [
        ("model", GPTConfig, _MODEL_FIELDS),
        ("training", TrainConfig, _TRAIN_FIELDS),
    ]:
        group = parser.add_argument_group(
            f"{title} (default: the preset's value, else {dataclass.__name__}'s)"
        )
        hints = typing.get_type_hints(
            dataclass
        )  # the fields' real types, whatever the annotations' form
        for name in names:
            kind = hints[name]
            if type(None) in typing.get_args(kind):  # int | None: an int, or no flag
                (kind,) = (t for t in typing.get_args(kind) if t is not type(None))
            group.add_argument(
                "--" + name.replace("_", "-"),
                type=_parse_bool if kind is bool else kind,
                metavar=kind.__name__.upper(),
            )
    parser.add_argument(
        "--out",
        default="runs",
        help="folder for the checkpoint and the log (default: runs)",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="the files are OUT/NAME.pt and OUT/NAME.log.jsonl "
        "(default: the preset, else 'model')",
    )
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda", "mps"]
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run saved in OUT/NAME.pt, exactly",
    )
    parser.add_argument(
        "--stop-after",
        type=int,
        default=None,
        metavar="STEP",
        help="stop after this step, as if interrupted (continue later with --resume)",
    )
    parser.add_argument(
        "--compile", action="store_true", help="compile the model with torch.compile"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def configs_from_args(
    args: argparse.Namespace, vocab_size: int, saved: dict | None = None
) -> tuple[GPTConfig, TrainConfig]:
    """The model and the recipe: a flag given wins over the preset (or, to resume,
    the `saved` checkpoint's settings), and those over the dataclass defaults."""
    preset = (
        {**saved["config"], **saved["train_config"]}
        if saved
        else PRESETS[args.preset or "course"]
    )

    def chosen(names: list[str]) -> dict:
        values = {name: preset[name] for name in names if name in preset}
        values.update(
            {
                name: getattr(args, name)
                for name in names
                if getattr(args, name) is not None
            }
        )
        return values

    return GPTConfig(vocab_size=vocab_size, **chosen(_MODEL_FIELDS)), TrainConfig(
        **chosen(_TRAIN_FIELDS)
    )


# %% chapters/11_command_line.ipynb 9
def _check_flags(args: argparse.Namespace) -> None:
    """Refuse flags that contradict each other, before anything is read or trained."""
    if args.tokenizer == "bpe" and args.vocab_size is None:
        raise ValueError("--tokenizer bpe needs --vocab-size N (for example 2000)")
    if args.vocab_size is not None and args.tokenizer != "bpe":
        raise ValueError(
            "--vocab-size is for --tokenizer bpe: a character vocabulary is the text's "
            "characters"
        )
    if args.init_from and args.resume:
        raise ValueError(
            "--init-from starts a new run from a trained model and --resume continues "
            "a run: give one of them"
        )
    if args.init_from and (args.tokenizer != "char" or args.vocab_size is not None):
        raise ValueError(
            "--init-from uses the checkpoint's own tokenizer: leave out --tokenizer "
            "and --vocab-size"
        )
    if args.init_from:
        given = [name for name in _MODEL_FIELDS if getattr(args, name) is not None]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise ValueError(
                f"{flags}: with --init-from the model is the checkpoint's; "
                "leave out the model's flags"
            )
    if (args.lora_rank is not None or args.lora_targets) and not args.init_from:
        raise ValueError(
            "--lora-rank adapts a trained model: give it with --init-from CHECKPOINT"
        )
    if args.lora_targets and args.lora_rank is None:
        raise ValueError("--lora-targets needs --lora-rank R")


def _check_writable(folder: Path) -> None:
    """Fail now, not after an hour of training, if `folder` cannot take checkpoints."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(
            f"cannot write to the output folder {folder} ({error.strerror}): "
            "choose another --out"
        ) from None


def _start_processes(device: str) -> tuple[int, int, str]:
    """(rank, world size, device) of this process; under torchrun, join the others
    (NCCL on GPUs, else gloo)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return 0, 1, device
    if device not in ("cpu", "cuda"):
        raise ValueError(
            f"training with several processes needs --device cpu or cuda, not {device}"
        )
    dist.init_process_group("nccl" if device == "cuda" else "gloo")
    if device == "cuda":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        device = f"cuda:{os.environ['LOCAL_RANK']}"
    return dist.get_rank(), world_size, device


def _write_log(path: Path, history: dict) -> None:
    """The run's losses as JSON lines (one per step, and one per evaluation),
    replaced atomically."""
    evaluations = dict(
        zip(history["eval_step"], zip(history["train_loss"], history["val_loss"]))
    )
    lines = []
    for step, loss, lr in zip(history["step"], history["loss"], history["lr"]):
        lines.append(json.dumps({"step": step, "loss": loss, "lr": lr}))
        if step in evaluations:
            train_loss, val_loss = evaluations[step]
            lines.append(
                json.dumps(
                    {"step": step, "train_loss": train_loss, "val_loss": val_loss}
                )
            )
    text = "\n".join(lines) + "\n"
    _write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# %% chapters/11_command_line.ipynb 17
def run(args: argparse.Namespace) -> TrainState:
    """Train (or resume) as the flags say, saving a checkpoint and the log at every
    evaluation."""
    name = args.name or args.preset or "model"
    out = Path(args.out)
    path, log = out / f"{name}.pt", out / f"{name}.log.jsonl"
    device = resolve_device(args.device)
    _check_flags(args)
    if args.resume and not path.is_file():
        raise FileNotFoundError(
            f"--resume: there is no {path} to continue; "
            "leave out --resume to start a new run"
        )
    if not args.resume and path.exists():
        raise ValueError(
            f"{path} already exists: add --resume to continue that run, "
            "or choose another --out or --name"
        )
    base, base_tokenizer = (
        load_model(args.init_from) if args.init_from else (None, None)
    )
    saved = (
        load_checkpoint(path) if args.resume else None
    )  # to resume, the run's own settings are the base
    bpe_size = args.vocab_size if args.tokenizer == "bpe" else None
    if saved is not None and saved["tokenizer"]["type"] == "bpe":
        bpe_size = tokenizer_from_dict(saved["tokenizer"]).vocab_size
    try:  # the vocabulary is the text's, or the checkpoint's to fine-tune
        tokenizer, train_data, val_data = cached_tokens(
            args.corpus,
            base_tokenizer,
            args.sha256,
            args.val_fraction,
            bpe_vocab_size=bpe_size,
        )
    except OutOfVocabularyError as error:
        if base_tokenizer is None:
            raise
        raise CheckpointError(
            f"{args.init_from} was made with another vocabulary: the corpus has "
            f"characters that it lacks, {error.characters}. Fine-tune on text in its "
            "vocabulary, or train a new model on this text"
        ) from None
    if base is not None:  # fine-tuning: the model is the checkpoint's
        saved_config = asdict(base.config)
        saved = {
            "config": saved_config,
            "train_config": PRESETS[args.preset or "course"],
        }
    config, recipe = configs_from_args(args, tokenizer.vocab_size, saved)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    slices = world_size * recipe.grad_accum  # every process cuts its share again
    if recipe.batch_size % slices:
        raise ValueError(
            f"--batch-size {recipe.batch_size} cannot be split evenly among "
            f"{world_size} processes"
            + (
                f" of {recipe.grad_accum} micro-batches each"
                if recipe.grad_accum > 1
                else ""
            )
            + f": use a multiple of {slices}"
        )
    _check_writable(out)
    rank, world_size, device = _start_processes(device)

    torch.manual_seed(recipe.seed)
    model = GPT(config).to(device)
    if base is not None:
        model.load_state_dict(base.state_dict())
    if args.lora_rank is not None:
        from gptcore.lora import add_lora, merge_lora  # chapter 15's, only when asked

        targets = (
            [name.strip() for name in args.lora_targets.split(",")]
            if args.lora_targets
            else None
        )
        add_lora(
            model, args.lora_rank, **({"targets": tuple(targets)} if targets else {})
        )
    optimizer = make_optimizer(model, recipe)
    state = None
    if args.resume:
        checkpoint = load_checkpoint(path, model, tokenizer, optimizer, device=device)
        theirs = asdict(
            TrainConfig(**checkpoint["train_config"])
        )  # an older file: later fields at default
        if theirs != asdict(recipe):
            changed = [
                f"{k}={v} in the checkpoint but {asdict(recipe)[k]} now"
                for k, v in theirs.items()
                if asdict(recipe)[k] != v
            ]
            raise CheckpointError(
                f"{path} was trained with another recipe ({'; '.join(changed)}): "
                "resume with the "
                "flags of the original run, or start a new one"
            )
        state = resume_state(checkpoint)
    network = model if world_size == 1 else DistributedDataParallel(model)
    if args.compile:
        network = torch.compile(network)

    saved_at = []

    def save(state: TrainState) -> None:
        if rank == 0 and state.step not in saved_at:
            saved_at.append(state.step)
            if args.lora_rank is None:
                save_checkpoint(path, model, tokenizer, optimizer, state, recipe)
            else:  # the adapters folded in: a plain GPT, for sampling or more tuning
                merged = merge_lora(copy.deepcopy(model))
                save_checkpoint(path, merged, tokenizer, None, state, recipe)
            _write_log(log, state.history)
            h = state.history
            if h["eval_step"] and h["eval_step"][-1] == state.step:
                tqdm.write(
                    f"step {state.step}/{recipe.steps}: "
                    f"train loss {h['train_loss'][-1]:.4f}, "
                    f"val loss {h['val_loss'][-1]:.4f}; saved {path}"
                )

    if rank == 0:
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        print(
            f"{sum(p.numel() for p in model.parameters()):,} parameters"
            + (f" ({trainable:,} trained)" if args.lora_rank is not None else "")
            + ", "
            f"{len(train_data):,} training and "
            f"{len(val_data):,} validation tokens, "
            f"vocabulary {tokenizer.vocab_size}; device {device}"
            + (f" x {world_size} processes" if world_size > 1 else "")
            + (f"; resuming at step {state.step}" if state else ""),
            flush=True,
        )
    state = train(
        network,
        optimizer,
        train_data,
        val_data,
        recipe,
        state,
        device=device,
        until=args.stop_after,
        progress=not args.no_progress,
        on_eval=save,
        rank=rank,
        world_size=world_size,
    )
    save(
        state
    )  # the final (or --stop-after) state, if the last evaluation did not just save it
    if world_size > 1:
        dist.destroy_process_group()
    return state


def main(argv: list[str] | None = None) -> int:
    """The command: parse the flags and run; a mistake in them ends with one clear
    line and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        run(args)
    except (ValueError, OSError) as error:  # CheckpointError is a ValueError
        parser.error(str(error))
    return 0


# The public names above, computed by scripts/export.py.
__all__ = ["build_parser", "configs_from_args", "run", "main"]
