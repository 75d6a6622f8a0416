# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/11_command_line.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/11_command_line.ipynb 4
"""`gptcore train`: train a GPT on the plays or on your own text, resumably, on one
device or several."""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import re
import sys
import typing
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

try:
    import fcntl  # file locks, on Linux and macOS
except ImportError:  # Windows
    fcntl = None

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
from gptcore.tokens import (
    _check_writable,
    _corpus_id,
    _write_atomically,
    cached_tokens,
    token_cache,
)
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
        prog="gptcore train",
        usage="%(prog)s [flags]  (gptcore train --help lists them)",
        description=__doc__.split(": ", 1)[1],
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

    try:
        return GPTConfig(vocab_size=vocab_size, **chosen(_MODEL_FIELDS)), TrainConfig(
            **chosen(_TRAIN_FIELDS)
        )
    except ValueError as error:  # name the flags behind a value the user never typed
        unset = [
            name
            for name in _MODEL_FIELDS + _TRAIN_FIELDS
            if name in preset
            and getattr(args, name) is None
            and re.search(rf"\b{name}\b", str(error))
        ]
        if not unset:
            raise
        source = "the checkpoint" if saved else f"the preset {args.preset or 'course'}"
        values = ", ".join(f"{name}={preset[name]}" for name in unset)
        flags = ", ".join("--" + name.replace("_", "-") for name in unset)
        raise ValueError(f"{error} ({values} from {source}: set {flags})") from None


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
    if (args.init_from or args.resume) and (
        args.tokenizer != "char" or args.vocab_size is not None
    ):
        whose = "--init-from uses the checkpoint's"
        if not args.init_from:
            whose = "--resume continues with the run's"
        raise ValueError(
            f"{whose} own tokenizer: leave out --tokenizer and --vocab-size"
        )
    if args.init_from:
        given = [name for name in _MODEL_FIELDS if getattr(args, name) is not None]
        if given:
            flags = ", ".join("--" + name.replace("_", "-") for name in given)
            raise ValueError(
                f"{flags}: with --init-from the model is the checkpoint's; "
                "leave out the model's flags"
            )
    if (args.lora_rank is not None or args.lora_targets is not None) and (
        not args.init_from
    ):
        raise ValueError(
            "--lora-rank adapts a trained model: give it with --init-from CHECKPOINT"
        )
    if args.lora_targets is not None and args.lora_rank is None:
        raise ValueError("--lora-targets needs --lora-rank R")
    if args.lora_targets is not None and not args.lora_targets.strip(" ,"):
        raise ValueError(
            "--lora-targets is empty: name layers, such as attn.qkv,attn.proj, or "
            "leave it out for add_lora's"
        )
    if args.stop_after is not None and args.stop_after < 1:
        raise ValueError(f"--stop-after {args.stop_after}: give a step of 1 or more")
    if args.stop_after is not None and args.lora_rank is not None:
        raise ValueError(
            "--stop-after with --lora-rank: a LoRA run saves the merged model, which "
            "cannot go on as LoRA; train it in one go"
        )
    if not args.out:
        raise ValueError("--out is empty: name a folder (default: runs)")
    if args.name is not None and (
        Path(args.name).name != args.name
        or args.name in ("", ".", "..")
        or args.name.endswith(".pt")
    ):
        raise ValueError(
            f"--name {args.name!r}: give a plain name, without a folder or '.pt' "
            "(the files are OUT/NAME.pt and OUT/NAME.log.jsonl)"
        )


def _paths(args: argparse.Namespace) -> tuple[Path, Path]:
    """The run's checkpoint and log: OUT/NAME.pt and OUT/NAME.log.jsonl."""
    name = args.name or args.preset or "model"
    out = Path(args.out).expanduser()
    return out / f"{name}.pt", out / f"{name}.log.jsonl"


def _check_new(path: Path, resume: bool) -> None:
    """A run starts where no checkpoint is, and resumes where one is."""
    if resume and not path.is_file():
        raise FileNotFoundError(
            f"--resume: there is no {path} to continue; "
            "leave out --resume to start a new run"
        )
    if not resume and path.exists():
        raise ValueError(
            f"{path} already exists: add --resume to continue that run, "
            "or choose another --out or --name"
        )


@contextlib.contextmanager
def _claim(path: Path, log: Path) -> Iterator[None]:
    """Hold OUT/NAME.pt.lock while this run writes its files: a second run into the
    same files fails at once instead of overwriting them (not on Windows, which lacks
    fcntl)."""
    if fcntl is None:
        yield
        return
    lock = path.with_name(path.name + ".lock")
    with lock.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(
                f"another run is writing {path} now: wait for it to end, or choose "
                "another --out or --name"
            ) from None
        for name in (path.name, log.name):  # half-written files of a killed run
            for stale in path.parent.glob(f".{name}.*.tmp"):
                stale.unlink()
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)


def _world_size() -> int:
    """The number of processes: torchrun's WORLD_SIZE, else 1."""
    text = os.environ.get("WORLD_SIZE", "1")
    if not text.isdigit() or int(text) < 1:
        raise ValueError(
            f"WORLD_SIZE={text!r} in the environment is not a number of processes: "
            "torchrun sets it; unset it to train in one process"
        )
    return int(text)


def _start_processes(device: str) -> tuple[int, int, str]:
    """(rank, world size, device) of this process; under torchrun, join the others
    (NCCL on GPUs, else gloo)."""
    world_size = _world_size()
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


def _logged_corpus(log: Path) -> str | None:
    """The SHA-256 of the text a run's log says it trained on (None: an older log)."""
    try:
        first = json.loads(log.read_text(encoding="utf-8").split("\n", 1)[0])
    except (OSError, ValueError):
        return None
    return first.get("sha256") if isinstance(first, dict) else None


def _write_log(path: Path, history: dict, corpus: dict) -> None:
    """The run's text (a first line), then its losses as JSON lines (one per step,
    and one per evaluation), replaced atomically."""
    evaluations = dict(
        zip(history["eval_step"], zip(history["train_loss"], history["val_loss"]))
    )
    lines = [json.dumps(corpus)]
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
    path, log = _paths(args)
    out = path.parent
    device = resolve_device(args.device)
    _check_flags(args)
    _check_new(path, args.resume)
    corpus = os.path.expanduser(args.corpus)
    sha256 = (
        args.sha256.strip().lower().removeprefix("sha256:") if args.sha256 else None
    )
    init_from = os.path.expanduser(args.init_from) if args.init_from else None
    base, given = load_model(init_from) if init_from else (None, None)
    saved = (
        load_checkpoint(path) if args.resume else None
    )  # to resume, the run's own settings are the base
    if saved is not None and saved["train_config"] is None:
        raise CheckpointError(
            f"{path} holds no training recipe (save_checkpoint was given no "
            "train_config), so it cannot be resumed: start from it with --init-from"
        )
    logged = _logged_corpus(log) if saved is not None else None
    digest = _corpus_id(corpus, sha256, token_cache()) if logged else None
    if logged is not None and digest is not None:  # else an older run's log
        if logged != digest:
            raise CheckpointError(
                f"{path} was trained on another text than {args.corpus} (sha256 "
                f"{logged[:12]}..., not {digest[:12]}...): resume on the text the "
                "run began with"
            )
        given = tokenizer_from_dict(saved["tokenizer"])  # the run's own vocabulary
    bpe_size = args.vocab_size if args.tokenizer == "bpe" else None
    if saved is not None and saved["tokenizer"]["type"] == "bpe":
        bpe_size = tokenizer_from_dict(saved["tokenizer"]).vocab_size
    try:  # the vocabulary is the text's, or the checkpoint's to fine-tune
        tokenizer, train_data, val_data = cached_tokens(
            corpus, given, sha256, args.val_fraction, bpe_vocab_size=bpe_size
        )
    except OutOfVocabularyError as error:
        if given is None:
            raise
        raise CheckpointError(
            f"{init_from or path} was made with another vocabulary: the corpus has "
            f"characters that it lacks, {error.characters}. Fine-tune on text in its "
            "vocabulary, or train a new model on this text"
        ) from None
    digest = digest or _corpus_id(corpus, sha256, token_cache())  # the log's first line
    if base is not None:  # fine-tuning: the model is the checkpoint's
        saved_config = asdict(base.config)
        saved = {
            "config": saved_config,
            "train_config": PRESETS[args.preset or "course"],
        }
    config, recipe = configs_from_args(args, tokenizer.vocab_size, saved)
    for split, data in (("training", train_data), ("validation", val_data)):
        if len(data) <= config.block_size:
            raise ValueError(
                f"the {split} text has {len(data):,} tokens, but one window needs "
                f"block_size + 1 = {config.block_size + 1}: "
                + (
                    "hold out more with --val-fraction, "
                    if split == "validation"
                    else ""
                )
                + "use a longer text, or lower --block-size"
            )
    world_size = _world_size()
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
    _check_writable(out, "the output folder", "choose another --out")
    rank, world_size, device = _start_processes(device)
    with _claim(path, log) if rank == 0 else contextlib.nullcontext():
        _check_new(path, args.resume)  # again: another run may have ended meanwhile
        torch.manual_seed(recipe.seed)
        model = GPT(config).to(device)
        if base is not None:
            model.load_state_dict(base.state_dict())
        if args.lora_rank is not None:
            from gptcore.lora import (
                add_lora,
                merge_lora,
            )  # chapter 15's, only when asked

            targets = (
                [name.strip() for name in args.lora_targets.split(",") if name.strip()]
                if args.lora_targets
                else None
            )
            add_lora(
                model,
                args.lora_rank,
                **({"targets": tuple(targets)} if targets else {}),
            )
        optimizer = make_optimizer(model, recipe)
        state = None
        if args.resume:
            checkpoint = load_checkpoint(
                path, model, tokenizer, optimizer, device=device
            )
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
            if args.stop_after is not None and args.stop_after <= state.step:
                raise ValueError(
                    f"--stop-after {args.stop_after}: {path} is at step {state.step}: "
                    "give a later step, or leave it out to finish the run"
                )
        network = model if world_size == 1 else DistributedDataParallel(model)
        if args.compile:
            network = torch.compile(network)

        saved_at = []

        def save(state: TrainState) -> None:
            if rank == 0 and state.step not in saved_at:
                _check_finite(state, recipe, path)
                saved_at.append(state.step)
                if args.lora_rank is None:
                    save_checkpoint(path, model, tokenizer, optimizer, state, recipe)
                else:  # the adapters folded in: a plain GPT, to sample or tune more
                    merged = merge_lora(copy.deepcopy(model))
                    save_checkpoint(path, merged, tokenizer, None, state, recipe)
                _write_log(
                    log, state.history, {"corpus": args.corpus, "sha256": digest}
                )
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
        # the final (or --stop-after) state, if the last evaluation did not just save it
        save(state)
        if world_size > 1:
            dist.destroy_process_group()
        return state


def _check_finite(state: TrainState, recipe: TrainConfig, path: Path) -> None:
    """Refuse to save a diverged run: a loss of nan or inf has ruined the weights."""
    h = state.history
    evaluated = h["eval_step"] and h["eval_step"][-1] == state.step
    losses = [h["train_loss"][-1], h["val_loss"][-1]] if evaluated else h["loss"][-1:]
    if not all(math.isfinite(loss) for loss in losses):
        raise ValueError(
            f"the loss is nan or infinite at step {state.step}: training diverged, so "
            f"the weights were not saved ({path} keeps the last good state, if any). "
            f"Lower --lr (it was {recipe.lr}), or raise --warmup-steps"
        )


def main(argv: list[str] | None = None) -> int:
    """The command: parse the flags and run; a mistake in them ends with one clear
    line and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        run(args)
    except (ValueError, OSError) as error:  # CheckpointError is a ValueError
        parser.error(str(error))
    except KeyboardInterrupt:  # Ctrl-C: say what is on disk, not a traceback
        path = _paths(args)[0]
        kept = (
            f"{path} holds step {load_checkpoint(path)['step']}"
            + ("" if args.lora_rank is not None else ": continue with --resume")
            if path.is_file()
            else "no checkpoint was saved yet"
        )
        print(f"\ngptcore train: interrupted; {kept}", file=sys.stderr)
        return 130
    return 0


# The public names above, computed by scripts/export.py.
__all__ = ["build_parser", "configs_from_args", "run", "main"]
