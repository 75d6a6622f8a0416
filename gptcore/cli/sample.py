"""`gptcore sample`: continue a prompt with a trained model from a checkpoint."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/11_command_line.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/11_command_line.ipynb 33
from __future__ import annotations

import argparse
from pathlib import Path

import torch

import gptcore
from gptcore.checkpoint import load_model, save_checkpoint
from gptcore.data import OutOfVocabularyError, check_writable
from gptcore.generation import generate_text
from gptcore.model import GPT
from gptcore.training import resolve_device


def course_model(name: str = "course.pt") -> Path:
    """A committed model of the course (course.pt by default), from any working folder:
    installed inside the package, or in the source tree beside it."""
    package = Path(gptcore.__file__).resolve().parent
    for folder in (package, package.parent):  # a wheel's gptcore/, or the repository
        path = folder / "checkpoints" / name
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"the course model {name} is neither in {package / 'checkpoints'} nor in "
        f"{package.parent / 'checkpoints'}: reinstall gptcore, or name a model with "
        "--checkpoint"
    )


def add_cheaper_flags(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Chapter 19's flags, added to a command's parser (sample's and chat's): fewer
    bytes per weight, fewer passes of the model."""
    parser.add_argument(
        "--quantize",
        choices=["int8", "int4"],
        default=None,
        help="store the weights as int8 (one scale per row) or int4 (groups of 32), "
        "on any device (chapter 19)",
    )
    parser.add_argument(
        "--draft",
        default=None,
        metavar="CHECKPOINT",
        help="speculative decoding: a small model with the same tokenizer proposes "
        "tokens that the model checks (chapter 19)",
    )
    parser.add_argument(
        "--save-quantized",
        default=None,
        metavar="PATH",
        help="with --quantize: also write the quantized model to PATH, a checkpoint "
        "that --checkpoint loads (chapter 19)",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The command's flags: the model, the prompt, and how to sample."""
    parser = argparse.ArgumentParser(
        prog="gptcore sample",
        usage="%(prog)s [flags]  (gptcore sample --help lists them)",
        description=__doc__.split(": ", 1)[1],
    )
    model = parser.add_mutually_exclusive_group()
    model.add_argument(
        "--checkpoint",
        default=None,
        help="a checkpoint of `gptcore train` (default: the course model, "
        "checkpoints/course.pt, shipped with gptcore)",
    )
    model.add_argument(
        "--pretrained",
        default=None,
        metavar="NAME",
        help="a Hugging Face model instead, with its own tokenizer: a hub name "
        "such as openai-community/gpt2, or a local folder (pip install gptcore[hf])",
    )
    parser.add_argument(
        "--prompt",
        default="\n",
        help="the text to continue (default: a new line); "
        "in bash, $'ROMEO:\\n' puts a new line in it",
    )
    parser.add_argument(
        "--length",
        type=int,
        default=500,
        help="tokens to generate: characters for the course model (default: 500)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        help="below 1: safer, above 1: wilder, 0: always the likeliest (default: 0.8)",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="sample only among the k likeliest characters",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="the same seed gives the same text (default: 0)",
    )
    parser.add_argument(
        "--device", default="auto", choices=["auto", "cpu", "cuda", "mps"]
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="recompute the whole window for every character",
    )
    return add_cheaper_flags(parser)


class _HFTokenizer:
    """A transformers tokenizer with the encode and decode that generate_text calls."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer

    def encode(self, text: str) -> list[int]:
        return self.tokenizer.encode(text)  # with a start token, if the model has one

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)


def _load_pretrained(name: str, device: str):
    """--pretrained: the model (gptcore's load_pretrained) and its own tokenizer."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise ValueError(
            "--pretrained reads the model's tokenizer with transformers, which is "
            "not installed: pip install gptcore[hf]"
        ) from None
    from gptcore.pretrained import load_pretrained

    folder = Path(name).expanduser()
    if (folder / "config.json").is_file() and not any(
        (folder / file).is_file()
        for file in ("tokenizer.json", "vocab.json", "tokenizer.model")
    ):
        raise FileNotFoundError(
            f"{folder} has no tokenizer (tokenizer.json, or vocab.json and merges.txt):"
            " copy the tokenizer's files of the model it came from into it "
            "(save_pretrained writes the weights and config.json only)"
        )
    name = str(folder) if folder.is_dir() else name
    model = load_pretrained(name, device)
    return model, _HFTokenizer(AutoTokenizer.from_pretrained(name))


def _save_quantized(model: GPT, tokenizer, args: argparse.Namespace) -> None:
    """--save-quantized: the quantized model written as a checkpoint, or a clear error
    for a path it cannot be written to."""
    path = Path(args.save_quantized).expanduser()
    if not args.quantize:
        raise ValueError("--save-quantized writes the model that --quantize makes")
    if path.is_dir():
        raise ValueError(
            f"--save-quantized {path} is a folder: give a file in it, such as "
            f"{path / 'model-int8.pt'}"
        )
    check_writable(path.parent, "--save-quantized's folder", "give another path")
    save_checkpoint(path, model, tokenizer)


def cheaper_models(
    model: GPT, tokenizer, args: argparse.Namespace, device: str
) -> tuple[GPT, GPT | None]:
    """--quantize, --save-quantized and --draft: the model quantized (and saved), and
    the draft model, checked to share the model's tokenizer (None without --draft)."""
    # Chapter 19's, imported only when one of its flags is given, so that this chapter
    # needs nothing from a later one.
    from gptcore.inference import quantize_model

    if args.quantize:
        bits, group_size = (8, None) if args.quantize == "int8" else (4, 32)
        model = quantize_model(model, bits, group_size)
    if args.save_quantized:
        _save_quantized(model, tokenizer, args)
    if not args.draft:
        return model, None
    if args.top_k is not None:
        raise ValueError("--draft samples from the whole distribution: drop --top-k")
    draft, draft_tokenizer = load_model(Path(args.draft).expanduser(), device)
    if draft_tokenizer.to_dict() != tokenizer.to_dict():
        raise ValueError(
            f"the draft {args.draft} has another tokenizer than the model: a draft "
            "must be trained on the same tokens (the same vocabulary)"
        )
    return model, draft


def _check_cheaper_flags(args: argparse.Namespace) -> None:
    """A ValueError for chapter 19's flags with --pretrained, before it downloads."""
    if args.pretrained is not None and (args.draft or args.save_quantized):
        raise ValueError("--draft and --save-quantized work with --checkpoint models")


def _answer_cheaply(model, tokenizer, args: argparse.Namespace, device: str) -> str:
    """--quantize, --save-quantized and --draft: the prompt and its continuation, by a
    quantized model or by speculative decoding with a draft model."""
    from gptcore.inference import speculative_generate  # chapter 19's, as above

    model, draft = cheaper_models(model, tokenizer, args, device)
    if draft is None:
        return generate_text(
            model, tokenizer, args.prompt, args.length, args.temperature, args.top_k,
            args.seed, use_cache=not args.no_cache,
        )  # fmt: skip
    idx = torch.tensor([tokenizer.encode(args.prompt)], device=device)
    room = model.config.block_size - idx.size(1)
    if args.length > room:  # the flags' fix, before speculative_generate refuses
        raise ValueError(
            "--draft checks the prompt and all its new tokens in one pass of the "
            f"model, whose context is {model.config.block_size} tokens: give --length "
            f"{max(room, 0)} or less (the context less the prompt's length), or a "
            "shorter --prompt"
        )
    generator = torch.Generator(device=device).manual_seed(args.seed)
    out, _ = speculative_generate(
        model, draft, idx, args.length, temperature=args.temperature,
        generator=generator,
    )  # fmt: skip
    return tokenizer.decode(out[0].tolist())


def main(argv: list[str] | None = None) -> int:
    """The command: print the prompt and its continuation; a mistake ends with one
    clear line and status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_cheaper_flags(args)
        device = resolve_device(args.device)
        if args.pretrained is not None:
            model, tokenizer = _load_pretrained(args.pretrained, device)
        else:
            checkpoint = Path(args.checkpoint).expanduser() if args.checkpoint else None
            model, tokenizer = load_model(checkpoint or course_model(), device)
        if args.quantize or args.draft or args.save_quantized:
            print(_answer_cheaply(model, tokenizer, args, device))
        else:
            print(
                generate_text(
                    model,
                    tokenizer,
                    args.prompt,
                    args.length,
                    args.temperature,
                    args.top_k,
                    args.seed,
                    use_cache=not args.no_cache,
                )
            )
    except OutOfVocabularyError as error:
        if args.prompt != "\n":
            parser.error(str(error))
        parser.error(
            "the default prompt, a new line, is not in this model's vocabulary (its "
            "text had no line breaks): give one with --prompt"
        )
    except (ValueError, OSError) as error:  # OSError: FileNotFoundError, the hub's
        parser.error(str(error))
    return 0


# The public names above, computed by scripts/export.py.
__all__ = [
    "course_model",
    "add_cheaper_flags",
    "build_parser",
    "cheaper_models",
    "main",
]
