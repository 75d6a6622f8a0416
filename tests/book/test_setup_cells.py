"""Every chapter opens in Colab: its first code cell is the setup cell, and it does
nothing elsewhere.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
spec = importlib.util.spec_from_file_location(
    "setup_cells", ROOT / "scripts" / "setup_cells.py"
)
setup_cells = importlib.util.module_from_spec(spec)
spec.loader.exec_module(setup_cells)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_starts_with_the_setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    assert setup_cells.TAG in first_code.metadata.get("tags", []), (
        f"{path.name}: no setup cell first; run python scripts/setup_cells.py"
    )
    assert "remove-cell" in first_code.metadata["tags"]  # hidden in the book
    assert first_code.source == setup_cells.setup_source(), (
        f"{path.name}: stale setup cell; run python scripts/setup_cells.py"
    )
    assert first_code.outputs == []


def test_the_setup_cell_does_nothing_outside_colab(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the setup cell acted outside Colab")

    monkeypatch.setattr(subprocess, "run", refuse)
    monkeypatch.setattr(os, "chdir", refuse)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    path_before = list(sys.path)
    exec(setup_cells.setup_source("https://github.com/example/course"), {})
    assert sys.path == path_before


def test_in_colab_it_clones_the_configured_repository(monkeypatch):
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kwargs: calls.append(args))
    monkeypatch.setattr(os, "chdir", lambda folder: calls.append(["chdir", folder]))
    monkeypatch.setattr(os.path, "isdir", lambda folder: False)
    monkeypatch.setitem(sys.modules, "google.colab", object())
    monkeypatch.setattr(sys, "path", list(sys.path))
    exec(setup_cells.setup_source("https://github.com/example/course"), {})
    assert calls[0] == [
        "git",
        "clone",
        "--depth",
        "1",
        "https://github.com/example/course",
        "/content/gptcore",
    ]
    assert calls[-1] == ["chdir", "/content/gptcore/chapters"]
    with pytest.raises(RuntimeError, match="repository.url"):
        exec(setup_cells.setup_source(""), {})
