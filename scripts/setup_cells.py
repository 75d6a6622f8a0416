"""Write the Colab setup cell at the top of every chapter, from `repository.url` in
_config.yml.

Opened in Google Colab, a chapter has no gptcore and no committed checkpoint. Its first
code cell clones the repository that `repository.url` names (the one setting that also
drives the book's launch buttons), installs gptcore from it, and moves into its
chapters/ folder. Anywhere else the cell does nothing. It is tagged `remove-cell`, so
the book does not show it.

Usage:
    python scripts/setup_cells.py --url https://github.com/you/course
                                           # publish: set the URL, write
    python scripts/setup_cells.py          # write (or update) the cell in every chapter
    python scripts/setup_cells.py --check  # exit 1, naming the chapters, if a cell
                                           # is stale
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
TAG = "colab-setup"
TEMPLATE = """\
# Google Colab only: fetch the course and install gptcore. Elsewhere this does nothing.
import os
import subprocess
import sys

if "google.colab" in sys.modules:
    REPOSITORY = "{url}"  # repository.url in _config.yml
    if not REPOSITORY:
        raise RuntimeError(
            "this copy of the course names no repository: set repository.url in "
            "_config.yml and run `python scripts/setup_cells.py`"
        )
    if not os.path.isdir("/content/gptcore"):
        clone = ["git", "clone", "--depth", "1", REPOSITORY, "/content/gptcore"]
        subprocess.run(clone, check=True)
        pip = [sys.executable, "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "-e", "/content/gptcore", "myst-nb==1.4.0"], check=True)
    sys.path.insert(0, "/content/gptcore")  # this kernel predates the install
    os.chdir("/content/gptcore/chapters")  # the chapters read ../checkpoints, as here\
"""


def repository_url() -> str:
    """The repository the book is published from: `repository.url` in _config.yml, or
    ''."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    return ((config.get("repository") or {}).get("url") or "").strip()


def set_repository_url(url: str) -> None:
    """Write `url` as repository.url in _config.yml, changing nothing else in the
    file."""
    if url and not re.fullmatch(r"https://[\w.-]+/[\w.-]+/[\w.-]+", url):
        raise SystemExit(
            f"{url!r} is not a repository URL such as https://github.com/you/course"
        )
    path = ROOT / "_config.yml"
    text = path.read_text(encoding="utf-8")
    new, count = re.subn(
        r"(?m)^(\s+url:\s*).*$", lambda m: f'{m.group(1)}"{url}"', text, count=1
    )
    if count != 1:
        raise SystemExit("_config.yml has no repository.url line to set")
    path.write_text(new, encoding="utf-8")
    if repository_url() != url:
        raise SystemExit(
            "_config.yml: the url line set was not repository.url; set it by hand"
        )


def setup_source(url: str | None = None) -> str:
    """The setup cell's source for a repository URL (default: the one _config.yml
    names)."""
    return TEMPLATE.format(url=repository_url() if url is None else url)


def setup_cell_index(nb: nbformat.NotebookNode) -> int | None:
    """The index of a notebook's setup cell, or None."""
    for index, cell in enumerate(nb.cells):
        if TAG in cell.metadata.get("tags", []):
            return index
    return None


def write(path: Path, source: str) -> bool:
    """Put the setup cell first among the code cells of one chapter; True if the file
    changed."""
    nb = nbformat.read(path, as_version=4)
    index = setup_cell_index(nb)
    if index is not None and nb.cells[index].source == source:
        return False
    if index is None:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = ["remove-cell", TAG]
        first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
        nb.cells.insert(first_code, cell)
    else:
        nb.cells[index].source = source
    nbformat.write(nb, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check the cells")
    parser.add_argument("--url", help="set repository.url in _config.yml to this first")
    args = parser.parse_args(argv)
    if args.url is not None:
        set_repository_url(args.url)
    source = setup_source()
    chapters = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
    if args.check:
        stale = []
        for path in chapters:
            nb = nbformat.read(path, as_version=4)
            index = setup_cell_index(nb)
            if index is None or nb.cells[index].source != source:
                stale.append(path.name)
        for name in stale:
            print(
                f"{name}: setup cell missing or stale; "
                "run python scripts/setup_cells.py"
            )
        return 1 if stale else 0
    for path in chapters:
        if write(path, source):
            print(
                f"{path.relative_to(ROOT)}: setup cell written (re-execute the chapter)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
