# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/11_command_line.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/11_command_line.ipynb 23
"""`gptcore sample`: continue a prompt with a trained model from a checkpoint."""
from __future__ import annotations

import argparse

from gptcore.checkpoint import load_model
from gptcore.generation import generate_text
from gptcore.training import default_device


def build_parser() -> argparse.ArgumentParser:
    """The command's flags: the checkpoint, the prompt, and how to sample."""
    parser = argparse.ArgumentParser(prog="gptcore sample", description=__doc__.split(": ", 1)[1])
    parser.add_argument("--checkpoint", default="checkpoints/course.pt", help="(default: the course model)")
    parser.add_argument("--prompt", default="\n", help="the text to continue (default: a new line); "
                                                       "in bash, $'ROMEO:\\n' puts a new line in it")
    parser.add_argument("--length", type=int, default=500, help="characters to generate (default: 500)")
    parser.add_argument("--temperature", type=float, default=0.8,
                        help="below 1: safer, above 1: wilder, 0: always the likeliest (default: 0.8)")
    parser.add_argument("--top-k", type=int, default=None, help="sample only among the k likeliest characters")
    parser.add_argument("--seed", type=int, default=0, help="the same seed gives the same text (default: 0)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--no-cache", action="store_true", help="recompute the whole window for every character")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command: print the prompt and its continuation; a mistake ends with one clear line and status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        model, tokenizer = load_model(args.checkpoint, default_device() if args.device == "auto" else args.device)
        print(generate_text(model, tokenizer, args.prompt, args.length, args.temperature, args.top_k, args.seed,
                            use_cache=not args.no_cache))
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    return 0


# The public names above, computed by scripts/export.py.
__all__ = ["build_parser", "main"]
