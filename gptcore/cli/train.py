"""`gptcore train`: train a GPT on the plays or on your own text, resumably, on one
device or several."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/11_command_line.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/11_command_line.ipynb 4
from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import hashlib
import json
import math
import os
import re
import sys
import typing
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
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
    config_from_settings,
    load_checkpoint,
    load_model,
    model_for,
    resume_state,
    save_checkpoint,
    tokenizer_from_dict,
    variant_classes,
)
from gptcore.data import (
    OutOfVocabularyError,
    check_writable,
    file_sha256,
    write_atomically,
)
from gptcore.model import GPT, GPTConfig
from gptcore.tokens import corpus_id, load_tokens, token_cache_folder
from gptcore.training import (
    PRESETS,
    TrainConfig,
    TrainState,
    make_optimizer,
    next_token_loss,
    resolve_device,
    train,
)

RECIPE_FIELDS = [field.name for field in fields(TrainConfig)]
# --chat tasks: the numbers of the course's training and held-out conversations
_TASK_CHATS = (4000, 200)


def model_fields() -> list[str]:
    """The model's settings that are flags: every field of the config of today's
    variants (chapter 13), which holds GPTConfig's, but the vocabulary, which comes from
    the text."""
    variant, _ = variant_classes()
    return [field.name for field in fields(variant) if field.name != "vocab_size"]


def _parse_bool(text: str) -> bool:
    """'true' or 'false' (any case) as a bool, for flags such as --bias false."""
    if text.lower() not in ("true", "false"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() == "true"


def _add_field_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per field of the model's config and of TrainConfig, typed from the
    dataclasses' own type hints."""
    variant, _ = variant_classes()
    for title, dataclass_, names in [
        ("model", variant, model_fields()),
        ("training", TrainConfig, RECIPE_FIELDS),
    ]:
        group = parser.add_argument_group(
            f"{title} (default: the preset's value, else {dataclass_.__name__}'s)"
        )
        hints = typing.get_type_hints(dataclass_)  # real types, whatever the form
        for name in names:
            kind = hints[name]
            if type(None) in typing.get_args(kind):  # int | None: an int, or no flag
                (kind,) = (t for t in typing.get_args(kind) if t is not type(None))
            group.add_argument(
                "--" + name.replace("_", "-"),
                type=_parse_bool if kind is bool else kind,
                metavar=kind.__name__.upper(),
            )


def _add_text_flags(parser: argparse.ArgumentParser) -> None:
    """The preset, and the text to train on: the corpus, its checksum, its split, and
    its tokenizer."""
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


def _add_tuning_flags(parser: argparse.ArgumentParser) -> None:
    """Fine-tuning: the trained model to start from, LoRA (chapter 15), and chats
    (chapter 16)."""
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
    parser.add_argument(
        "--chat",
        default=None,
        metavar="FILE",
        help="with --init-from: fine-tune to chat on a JSONL file of conversations, "
        "or 'tasks' for the course's own (chapter 16)",
    )
    _add_preference_flags(parser)


def _add_preference_flags(parser: argparse.ArgumentParser) -> None:
    """Tuning a chat model on preferences or rewards (chapter 17)."""
    parser.add_argument(
        "--dpo",
        default=None,
        metavar="FILE",
        help="with --init-from a chat model: DPO on a JSONL file of "
        '{"prompt", "chosen", "rejected"} (chapter 17)',
    )
    parser.add_argument(
        "--rl",
        default=None,
        metavar="FILE",
        help="with --init-from a chat model: RL on a JSONL file of "
        '{"prompt", "answer"}, rewarding an exact answer (chapter 17)',
    )
    parser.add_argument("--beta", type=float, default=0.1, help="--dpo's beta")
    parser.add_argument(
        "--group-size", type=int, default=8, help="--rl: answers per prompt"
    )
    parser.add_argument(
        "--kl", type=float, default=0.0, help="--rl: the KL penalty's weight"
    )


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    """Where the files go, the device, and how the run goes: resume, stop, compile."""
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
        "--device",
        default="auto",
        help="auto (the fastest here), cpu, cuda, cuda:N (the Nth GPU) or mps",
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


def build_parser() -> argparse.ArgumentParser:
    """The command's flags: one per GPTConfig and TrainConfig field, plus the corpus,
    output and device."""
    parser = argparse.ArgumentParser(
        prog="gptcore train",
        usage="%(prog)s [flags]  (gptcore train --help lists them)",
        description=__doc__.split(": ", 1)[1],
    )
    _add_text_flags(parser)
    _add_tuning_flags(parser)
    _add_field_flags(parser)
    _add_run_flags(parser)
    return parser


def starting_settings(
    args: argparse.Namespace, checkpoint: dict | None = None, base: GPT | None = None
) -> dict[str, tuple[object, str]]:
    """Each setting that a flag may change, with where its value comes from: the run's
    checkpoint (--resume), the base model's config (--init-from), or the preset."""
    if checkpoint is not None:
        saved = {**checkpoint["config"], **checkpoint["train_config"]}
        return {name: (value, "the checkpoint") for name, value in saved.items()}
    preset = args.preset or "course"
    settings = {
        name: (v, f"the preset {preset}") for name, v in PRESETS[preset].items()
    }
    if (
        base is not None
    ):  # fine-tuning: the model is the base's, the recipe the preset's
        model = asdict(base.config)
        settings = {k: v for k, v in settings.items() if k not in model}
        settings.update(
            {k: (v, f"the base model {args.init_from}") for k, v in model.items()}
        )
    return settings


def configs_from_args(
    args: argparse.Namespace,
    vocab_size: int,
    settings: dict[str, tuple[object, str]] | None = None,
) -> tuple[GPTConfig, TrainConfig]:
    """The model and the recipe: a flag given wins over the starting settings (the
    preset's, by default), and those over the dataclasses' defaults."""
    settings = starting_settings(args) if settings is None else settings
    names = model_fields() + RECIPE_FIELDS
    values = {name: settings[name][0] for name in names if name in settings}
    typed = {name for name in names if getattr(args, name, None) is not None}
    values.update({name: getattr(args, name) for name in typed})
    model = {name: value for name, value in values.items() if name not in RECIPE_FIELDS}
    try:
        return config_from_settings({"vocab_size": vocab_size, **model}), TrainConfig(
            **{name: values[name] for name in RECIPE_FIELDS if name in values}
        )
    except ValueError as error:  # name the flags behind a value the user never typed
        unset = [
            name
            for name in values
            if name not in typed and re.search(rf"\b{name}\b", str(error))
        ]
        if not unset:
            raise
        origins = ", ".join(
            f"{n}={settings[n][0]} from {settings[n][1]}" for n in unset
        )
        flags = ", ".join("--" + name.replace("_", "-") for name in unset)
        raise ValueError(f"{error} ({origins}: set {flags})") from None


# %% chapters/11_command_line.ipynb 9
def _check_source_flags(args: argparse.Namespace) -> None:
    """Refuse a tokenizer, a base model and a run to resume that contradict each
    other."""
    if args.tokenizer == "bpe" and args.vocab_size is None:
        raise ValueError("--tokenizer bpe needs --vocab-size N (for example 2000)")
    if args.vocab_size is not None and args.tokenizer != "bpe":
        raise ValueError(
            "--vocab-size is for --tokenizer bpe: a character vocabulary is the text's "
            "characters"
        )
    if args.init_from and args.resume and args.dpo is None and args.rl is None:
        raise ValueError(  # --dpo and --rl name their frozen reference with both
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
    model_flags = [name for name in model_fields() if getattr(args, name) is not None]
    if args.init_from and model_flags:
        flags = ", ".join("--" + name.replace("_", "-") for name in model_flags)
        raise ValueError(
            f"{flags}: with --init-from the model is the checkpoint's; "
            "leave out the model's flags"
        )


def _check_lora_flags(args: argparse.Namespace) -> None:
    """Refuse LoRA flags without a base model, or with each other's mistakes."""
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
    if args.stop_after is not None and args.lora_rank is not None:
        raise ValueError(
            "--stop-after with --lora-rank: a LoRA run saves the merged model, which "
            "cannot go on as LoRA; train it in one go"
        )


def _check_preference_flags(args: argparse.Namespace) -> None:
    """--dpo and --rl (chapter 17): one of them, from a chat model, on nothing else."""
    given = [f"--{k}" for k in ("chat", "dpo", "rl") if getattr(args, k) is not None]
    if len(given) > 1:
        raise ValueError(f"{' and '.join(given)}: give one of them")
    if args.dpo is None and args.rl is None:
        return
    if not args.init_from:
        raise ValueError(
            f"{given[0]} tunes a chat model, which stays as it was as the reference: "
            "give it with --init-from CHECKPOINT (with --resume too)"
        )
    if args.corpus != "plays" or args.sha256 or args.lora_rank is not None:
        raise ValueError(
            f"{given[0]} trains on its own file, in full: leave out --corpus, "
            "--sha256 and --lora-rank"
        )


def _check_flags(args: argparse.Namespace) -> None:
    """Refuse flags that contradict each other, before anything is read or trained."""
    _check_source_flags(args)
    _check_lora_flags(args)
    _check_preference_flags(args)
    if args.chat is not None and not (args.init_from or args.resume):
        raise ValueError(
            "--chat fine-tunes a trained model: give it with --init-from CHECKPOINT "
            "(or add --resume to continue such a run)"
        )
    if args.chat is not None and (args.corpus != "plays" or args.sha256):
        raise ValueError(
            "--chat trains on its conversations, not on a corpus: leave out --corpus "
            "and --sha256"
        )
    if args.stop_after is not None and args.stop_after < 1:
        raise ValueError(f"--stop-after {args.stop_after}: give a step of 1 or more")
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
            " (torchrun gives each process its own GPU)"
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
    write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# %% chapters/11_command_line.ipynb 17
@dataclass
class Plan:
    """What a run will do, settled before anything is trained: its files and device,
    its text and tokens, its model and recipe, and what it starts from."""

    path: Path  # OUT/NAME.pt, the checkpoint
    log: Path  # OUT/NAME.log.jsonl
    device: str
    corpus: dict  # as given, with its SHA-256: the log's first line
    tokenizer: object
    train_data: object
    val_data: object
    config: GPTConfig
    recipe: TrainConfig
    base: GPT | None = None  # --init-from: the trained model to start from
    checkpoint: dict | None = None  # --resume: the run's checkpoint
    objective: Callable = next_token_loss  # what training minimises


def _resume_checkpoint(args: argparse.Namespace, path: Path, log: Path):
    """With --resume: the run's checkpoint, and the SHA-256 of the text its log names
    (None for an older log), checked against the text given now."""
    if not args.resume:
        return None, None
    checkpoint = load_checkpoint(path)
    if checkpoint["train_config"] is None:
        raise CheckpointError(
            f"{path} holds no training recipe (save_checkpoint was given no "
            "recipe), so it cannot be resumed: start from it with --init-from"
        )
    chat = checkpoint["tokenizer"].get("type") == "chat"
    if chat != any(getattr(args, k) is not None for k in ("chat", "dpo", "rl")):
        raise CheckpointError(
            f"{path} was fine-tuned to chat: resume it with --chat, --dpo or --rl, "
            "as it began"
            if chat
            else f"{path} was trained on text: resume it without --chat"
        )
    logged = _logged_corpus(log)
    digest = _corpus_digest(args) if logged else None
    if logged is not None and digest is not None and logged != digest:
        raise CheckpointError(
            f"{path} was trained on another text than {args.chat or args.corpus} "
            f"(sha256 {logged[:12]}..., not {digest[:12]}...): resume on the text the "
            "run began with"
        )
    return checkpoint, digest


def _corpus_digest(args: argparse.Namespace) -> str | None:
    """The SHA-256 that names the corpus given (see corpus_id), or the conversations
    of --chat."""
    if args.chat is not None:
        return _chats(args)[2]
    if args.dpo is not None or args.rl is not None:
        return file_sha256(Path(args.dpo or args.rl).expanduser())
    return corpus_id(_corpus(args), _sha256(args), token_cache_folder())


def _chats(args: argparse.Namespace) -> tuple[list, list, str]:
    """--chat: the training and validation conversations (chapter 16), and the
    SHA-256 that names them: the file's, or that of the course's generated tasks."""
    # Chapter 16's, imported only for --chat, so that this chapter needs nothing
    # from a later one.
    from gptcore.chat import read_chats
    from gptcore.chat_tasks import make_conversations

    if args.chat == "tasks":
        train_chats = make_conversations(_TASK_CHATS[0], seed=0, split="train")
        val_chats = make_conversations(_TASK_CHATS[1], seed=0, split="heldout")
        text = json.dumps([train_chats, val_chats])
        return train_chats, val_chats, hashlib.sha256(text.encode()).hexdigest()
    path = Path(args.chat).expanduser()
    chats = read_chats(path)
    held = max(1, round(len(chats) * (args.val_fraction or 0.1)))
    if held >= len(chats):
        raise ValueError(
            f"{path} holds {len(chats)} conversations: too few to hold out some for "
            "validation (--val-fraction of them): give more"
        )
    return chats[:-held], chats[-held:], file_sha256(path)


def _chat_tokenizer(base: GPT | None, tokenizer, checkpoint: dict | None):
    """--chat: the tokenizer with chapter 16's special tokens; a base model that has
    none gets them, its embedding and output head grown by as many rows."""
    from gptcore.chat import SPECIAL_TOKENS, ChatTokenizer, add_special_tokens

    if checkpoint is not None:  # --resume: the run's own
        return tokenizer_from_dict(checkpoint["tokenizer"])
    if isinstance(tokenizer, ChatTokenizer):  # already fine-tuned to chat
        return tokenizer
    add_special_tokens(base, len(SPECIAL_TOKENS))
    return ChatTokenizer(tokenizer)


def _chat_data(args: argparse.Namespace, tokenizer, block_size: int, source) -> tuple:
    """--chat: sources of padded batches that count the assistant's tokens only, the
    numbers of conversations, and the objective that reads them (chapter 16)."""
    from gptcore.chat import chat_batches, sft_loss

    train_chats, val_chats, _ = _chats(args)
    try:
        train_draw = chat_batches(train_chats, tokenizer, block_size)
        val_draw = chat_batches(val_chats, tokenizer, block_size)
    except OutOfVocabularyError as error:
        raise CheckpointError(
            f"{source} was made with another vocabulary: the conversations have "
            f"characters that it lacks, {error.characters}. Fine-tune on chats in its "
            "vocabulary, or start from a model that has them"
        ) from None
    return train_draw, val_draw, [len(train_chats), len(val_chats)], sft_loss


def _preference_data(args: argparse.Namespace, tokenizer, reference, batch_size):
    """--dpo or --rl (chapter 17): sources of batches from the file's records (the
    last --val-fraction held out), their numbers, and the objective."""
    from gptcore import preferences  # chapter 17's, only for --dpo and --rl
    from gptcore.chat import ChatTokenizer

    if not isinstance(tokenizer, ChatTokenizer):
        raise ValueError(
            f"{args.init_from} is not a chat model (its tokenizer has no special "
            "tokens): fine-tune it with --chat first"
        )
    path = Path(args.dpo or args.rl).expanduser()
    keys = ("prompt", "chosen", "rejected") if args.dpo else ("prompt", "answer")
    records = preferences.read_jsonl(path, keys)
    held = max(1, round(len(records) * (args.val_fraction or 0.1)))
    if held >= len(records):
        raise ValueError(
            f"{path} holds {len(records)} records: too few to hold out some for "
            "validation (--val-fraction of them): give more"
        )
    parts = records[:-held], records[-held:]
    if args.dpo:
        preferences.check_beta(args.beta)
        draws = [preferences.preference_batches(p, tokenizer, reference) for p in parts]
        objective = functools.partial(preferences.dpo_loss, beta=args.beta)
    else:
        if batch_size % args.group_size:
            raise ValueError(
                f"--batch-size {batch_size} is not a multiple of --group-size "
                f"{args.group_size}: each prompt gets a whole group"
            )
        answers = {r["prompt"]: r["answer"].strip() for r in records}
        draws = [
            preferences.GroupSampler(
                reference,  # until _build swaps in the model being trained
                tokenizer,
                [r["prompt"] for r in part],
                lambda prompt, answer: answer.strip() == answers[prompt],
                args.group_size,
                reference=reference if args.kl else None,
                max_new_tokens=reference.config.block_size,
            )
            for part in parts
        ]
        objective = functools.partial(preferences.grpo_loss, kl=args.kl)
    return *draws, [len(p) for p in parts], objective


def _corpus(args: argparse.Namespace) -> str:
    """The corpus as given, with a leading ~ expanded."""
    return os.path.expanduser(args.corpus)


def _sha256(args: argparse.Namespace) -> str | None:
    """The expected SHA-256 given, in lower case, without a 'sha256:' prefix."""
    return args.sha256.strip().lower().removeprefix("sha256:") if args.sha256 else None


def _tokens(args: argparse.Namespace, tokenizer, source, checkpoint) -> tuple:
    """The tokenizer and the training and validation ids: the text's own vocabulary,
    or the base model's or the resumed run's (`tokenizer`, from `source`)."""
    bpe_size = args.vocab_size if args.tokenizer == "bpe" else None
    if checkpoint is not None and checkpoint["tokenizer"]["type"] == "bpe":
        bpe_size = tokenizer_from_dict(checkpoint["tokenizer"]).vocab_size
    try:
        return load_tokens(
            _corpus(args),
            tokenizer,
            _sha256(args),
            args.val_fraction,
            bpe_vocab_size=bpe_size,
        )
    except OutOfVocabularyError as error:
        if tokenizer is None:
            raise
        raise CheckpointError(
            f"{source} was made with another vocabulary: the corpus has characters "
            f"that it lacks, {error.characters}. Fine-tune on text in its vocabulary, "
            "or train a new model on this text"
        ) from None


def _check_sizes(config: GPTConfig, recipe: TrainConfig, train_data, val_data) -> None:
    """Refuse splits shorter than one window, and a batch the processes cannot share."""
    for split, data in (("training", train_data), ("validation", val_data)):
        if not callable(data) and len(data) <= config.block_size:
            more = (
                "hold out more with --val-fraction, " if split == "validation" else ""
            )
            raise ValueError(
                f"the {split} text has {len(data):,} tokens, but one window needs "
                f"block_size + 1 = {config.block_size + 1}: {more}use a longer text, "
                "or lower --block-size"
            )
    world_size = _world_size()
    slices = world_size * recipe.grad_accum  # every process cuts its share again
    if recipe.batch_size % slices:
        each = (
            f" of {recipe.grad_accum} micro-batches each"
            if recipe.grad_accum > 1
            else ""
        )
        raise ValueError(
            f"--batch-size {recipe.batch_size} cannot be split evenly among "
            f"{world_size} processes{each}: use a multiple of {slices}"
        )


def plan_run(args: argparse.Namespace) -> Plan:
    """Check the flags and settle the run (files, device, text, tokens, model, recipe,
    starting point) without training."""
    path, log = _paths(args)
    device = resolve_device(args.device)
    _check_flags(args)
    _check_new(path, args.resume)
    base, tokenizer, source = None, None, None
    if args.init_from:
        source = os.path.expanduser(args.init_from)
        base, tokenizer = load_model(source)
    checkpoint, digest = _resume_checkpoint(args, path, log)
    if digest is not None:  # the run's own vocabulary (an older log: the text's)
        tokenizer, source = tokenizer_from_dict(checkpoint["tokenizer"]), path
    tuned = args.dpo or args.rl  # preferences or rewards (chapter 17)
    if args.chat is None and not tuned:
        tokenizer, train_data, val_data = _tokens(args, tokenizer, source, checkpoint)
    elif args.chat is not None:  # conversations (chapter 16), once the context is known
        tokenizer = _chat_tokenizer(base, tokenizer, checkpoint)
    settings = starting_settings(args, checkpoint, base)
    config, recipe = configs_from_args(args, tokenizer.vocab_size, settings)
    text = {"corpus": args.corpus} if args.chat is None else {"chat": args.chat}
    if tuned:
        text = {"dpo": args.dpo} if args.dpo else {"rl": args.rl}
    corpus = {**text, "sha256": digest or _corpus_digest(args)}
    objective = next_token_loss
    if args.chat is not None:
        train_data, val_data, corpus["conversations"], objective = _chat_data(
            args, tokenizer, config.block_size, source or path
        )
    if tuned:
        train_data, val_data, corpus["records"], objective = _preference_data(
            args, tokenizer, base, recipe.batch_size
        )
    _check_sizes(config, recipe, train_data, val_data)
    check_writable(path.parent, "the output folder", "choose another --out")
    return Plan(
        path,
        log,
        device,
        corpus,
        tokenizer,
        train_data,
        val_data,
        config,
        recipe,
        base,
        checkpoint,
        objective,
    )


def _build(plan: Plan, args: argparse.Namespace) -> tuple:
    """The model (with LoRA adapters if asked), its optimiser, and the state to resume
    from (None for a new run), on the plan's device."""
    torch.manual_seed(plan.recipe.seed)
    model = model_for(plan.config).to(plan.device)
    if plan.base is not None:
        model.load_state_dict(plan.base.state_dict())
    if args.lora_rank is not None:
        from gptcore.lora import add_lora  # chapter 15's, only when asked

        names = [n.strip() for n in (args.lora_targets or "").split(",") if n.strip()]
        add_lora(model, args.lora_rank, **({"targets": tuple(names)} if names else {}))
        if args.chat is not None:  # the new special tokens' rows must learn too
            for name, weight in model.named_parameters():
                if (
                    name.startswith(("embed.token.", "lm_head."))
                    and "lora_" not in name
                ):
                    weight.requires_grad_(True)
    for source in (plan.train_data, plan.val_data):
        if hasattr(source, "policy"):  # --rl: sample from the model being trained
            source.policy = model
            if source.reference is not None:
                source.reference.to(plan.device)
    optimizer = make_optimizer(model, plan.recipe)
    if plan.checkpoint is None:
        return model, optimizer, None
    checkpoint = load_checkpoint(
        plan.path, model, plan.tokenizer, optimizer, device=plan.device
    )
    theirs = asdict(TrainConfig(**checkpoint["train_config"]))  # older: defaults
    ours = asdict(plan.recipe)
    if theirs != ours:
        changed = [
            f"{k}={v} in the checkpoint but {ours[k]} now"
            for k, v in theirs.items()
            if ours[k] != v
        ]
        raise CheckpointError(
            f"{plan.path} was trained with another recipe ({'; '.join(changed)}): "
            "resume with the flags of the original run, or start a new one"
        )
    state = resume_state(checkpoint)
    if args.stop_after is not None and args.stop_after <= state.step:
        raise ValueError(
            f"--stop-after {args.stop_after}: {plan.path} is at step {state.step}: "
            "give a later step, or leave it out to finish the run"
        )
    return model, optimizer, state


def _saver(plan: Plan, args: argparse.Namespace, model, optimizer, rank: int):
    """The callback that saves the checkpoint and rewrites the log (rank 0 only, once
    a step), refusing a diverged run."""
    saved_at = []

    def save(state: TrainState) -> None:
        if rank != 0 or state.step in saved_at:
            return
        _check_finite(state, plan.recipe, plan.path)
        saved_at.append(state.step)
        if args.lora_rank is None:
            save_checkpoint(
                plan.path, model, plan.tokenizer, optimizer, state, plan.recipe
            )
        else:  # the adapters folded in: a plain GPT, to sample or tune more
            from gptcore.lora import merge_lora  # chapter 15's, only when asked

            merged = merge_lora(copy.deepcopy(model))
            save_checkpoint(plan.path, merged, plan.tokenizer, None, state, plan.recipe)
        _write_log(plan.log, state.history, plan.corpus)
        h = state.history
        if h["eval_step"] and h["eval_step"][-1] == state.step:
            tqdm.write(
                f"step {state.step}/{plan.recipe.steps}: "
                f"train loss {h['train_loss'][-1]:.4f}, "
                f"val loss {h['val_loss'][-1]:.4f}; saved {plan.path}"
            )

    return save


def _announce(plan: Plan, model, state, world_size: int, device: str, lora: bool):
    """One line before training: the model's size, the tokens, the device, the step."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    counts, unit = plan.corpus.get("conversations"), "conversations"
    if "records" in plan.corpus:
        counts, unit = plan.corpus["records"], "records"
    if counts is None:
        counts, unit = (len(plan.train_data), len(plan.val_data)), "tokens"
    print(
        f"{sum(p.numel() for p in model.parameters()):,} parameters"
        + (f" ({trainable:,} trained)" if lora else "")
        + f", {counts[0]:,} training and {counts[1]:,} validation {unit}, "
        f"vocabulary {plan.tokenizer.vocab_size}; device {device}"
        + (f" x {world_size} processes" if world_size > 1 else "")
        + (f"; resuming at step {state.step}" if state else ""),
        flush=True,
    )


def execute(plan: Plan, args: argparse.Namespace) -> TrainState:
    """Train as planned, saving a checkpoint and the log at every evaluation and at
    the end."""
    rank, world_size, device = _start_processes(plan.device)
    plan.device = device
    with _claim(plan.path, plan.log) if rank == 0 else contextlib.nullcontext():
        _check_new(plan.path, args.resume)  # again: another run may have ended
        model, optimizer, state = _build(plan, args)
        network = model if world_size == 1 else DistributedDataParallel(model)
        if args.compile:
            network = torch.compile(network)
        save = _saver(plan, args, model, optimizer, rank)
        if rank == 0:
            _announce(
                plan, model, state, world_size, device, args.lora_rank is not None
            )
        state = train(
            network,
            optimizer,
            plan.train_data,
            plan.val_data,
            plan.recipe,
            state,
            objective=plan.objective,
            device=device,
            until=args.stop_after,
            progress=not args.no_progress,
            on_eval=save,
            rank=rank,
            world_size=world_size,
        )
        save(state)  # the final (or --stop-after) state, unless just saved
        if world_size > 1:
            dist.destroy_process_group()
        return state


def run(args: argparse.Namespace) -> TrainState:
    """Train (or resume) as the flags say: plan the run, then execute the plan."""
    return execute(plan_run(args), args)


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
__all__ = [
    "RECIPE_FIELDS",
    "model_fields",
    "build_parser",
    "starting_settings",
    "configs_from_args",
    "Plan",
    "plan_run",
    "execute",
    "run",
    "main",
]
