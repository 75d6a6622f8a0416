"""The `gptcore` command: `gptcore train ...` and `gptcore sample ...`
(also `python -m gptcore ...`)."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/11_command_line.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/11_command_line.ipynb 44
import importlib
import sys

# The commands: a name, the module whose main() runs it, and one line of help. A new
# command is one more line here; its module is imported only when it runs.
COMMANDS = {
    "train": ("gptcore.cli.train", "train a GPT on the plays or on your own text"),
    "sample": ("gptcore.cli.sample", "continue a prompt with a trained model"),
    "chat": ("gptcore.cli.chat", "talk, turn by turn, with a model fine-tuned to chat"),
}

USAGE = f"usage: gptcore {{{','.join(COMMANDS)}}} ...\n\n" + "\n".join(
    f"  gptcore {name:<7} {about} (gptcore {name} --help)"
    for name, (_, about) in COMMANDS.items()
)


def main(argv: list[str] | None = None) -> int:
    """Run the command named by the first word, the remaining words as its flags."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if not argv or argv[0] not in COMMANDS:
        problem = f"unknown command {argv[0]!r}" if argv else "no command given"
        choices = " or ".join(COMMANDS)
        print(f"{USAGE}\ngptcore: error: {problem}: choose {choices}", file=sys.stderr)
        return 2
    module, _ = COMMANDS[argv[0]]
    return importlib.import_module(module).main(argv[1:])


# The public names above, computed by scripts/export.py.
__all__ = ["COMMANDS", "USAGE", "main"]
