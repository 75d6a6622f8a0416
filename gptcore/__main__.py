"""`python -m gptcore ...`: the same as the `gptcore` command."""

# GENERATED FILE, DO NOT EDIT BY HAND.
# Source: chapters/11_command_line.ipynb (its cells tagged 'export').
# Edit the notebook, then run `python scripts/export.py` to regenerate this file.

# %% chapters/11_command_line.ipynb 45
import sys

from gptcore.cli import main

if (
    __name__ == "__main__" and "ipykernel" not in sys.modules
):  # run as a program, not in this notebook
    sys.exit(main())


# The public names above, computed by scripts/export.py.
__all__ = []
