"""Re-execute chapter notebooks in a fresh kernel, save their outputs in place, then
re-export gptcore.

Usage:
    python scripts/execute.py chapters/01_corpus_and_tokenizer.ipynb [more ...]
    python scripts/execute.py --all

Each notebook runs top to bottom in its own fresh kernel from the chapters/ folder,
exactly as nbval will run it; outputs and widget state are stored, execution counts run
1..n, and no timing metadata is written, so a re-run that changes nothing leaves the
file unchanged. Each code cell records a hash of the source it was executed from
(``metadata.source_hash``), so that ``tests/book/test_notebooks.py`` can tell when a
cell was edited after its outputs were stored.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent


def source_hash(source: str) -> str:
    """A short fingerprint of a cell's source: the first 16 hex digits of its
    SHA-256."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def execute(path: Path, timeout: int = 900) -> float:
    """Run one notebook in place; return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute()
    for cell in nb.cells:  # nbclient adds these; they only make diffs noisy
        cell.get("metadata", {}).pop("execution", None)
        if cell.cell_type == "code":
            cell.metadata["source_hash"] = source_hash(cell.source)
    nb.metadata.pop(
        "jupytext", None
    )  # left by authoring tools; not part of the chapter
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument(
        "--all", action="store_true", help="every notebook under chapters/"
    )
    args = parser.parse_args(argv)
    paths = (
        sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
        if args.all
        else args.notebooks
    )
    if not paths:
        parser.error("name at least one notebook, or pass --all")
    # Export first, so a notebook that imports its own earlier cells' module sees the
    # current code.
    subprocess.run([sys.executable, str(ROOT / "scripts" / "export.py")], check=True)
    for path in paths:
        seconds = execute(path.resolve())
        print(f"{path}: executed in {seconds:.1f} s")
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "export.py")]
    ).returncode


if __name__ == "__main__":
    sys.exit(main())
