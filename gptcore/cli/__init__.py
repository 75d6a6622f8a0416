# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/11_command_line.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/11_command_line.ipynb 43
"""The `gptcore` command: `gptcore train ...` and `gptcore sample ...`
(also `python -m gptcore ...`)."""

import sys

from gptcore.cli import sample as sample_command
from gptcore.cli import train as train_command

USAGE = """usage: gptcore {train,sample} ...

  gptcore train   train a GPT on the plays or on your own text (gptcore train --help)
  gptcore sample  continue a prompt with a trained model (gptcore sample --help)"""


def main(argv: list[str] | None = None) -> int:
    """Run the command named by the first word, the remaining words as its flags."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if not argv or argv[0] not in ("train", "sample"):
        given = f"unknown command {argv[0]!r}" if argv else "no command given"
        print(
            f"{USAGE}\ngptcore: error: {given}: choose train or sample", file=sys.stderr
        )
        return 2
    command = train_command if argv[0] == "train" else sample_command
    return command.main(argv[1:])


# The public names above, computed by scripts/export.py.
__all__ = ["USAGE", "main"]
