"""gptcore/ must be exactly what the chapter notebooks export."""

import ast
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("export", ROOT / "scripts" / "export.py")
export = importlib.util.module_from_spec(spec)
spec.loader.exec_module(export)


def test_gptcore_matches_the_notebooks():
    problems = export.stale_files(export.render_package())
    assert not problems, (
        "gptcore/ is out of sync with chapters/ (run `python scripts/export.py`):\n"
        + "\n".join(problems)
    )


def test_every_generated_file_opens_with_its_docstring_then_the_notice():
    for path in sorted((ROOT / "gptcore").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        assert ast.get_docstring(tree), f"{path.name} does not open with a docstring"
        after = text.splitlines()[tree.body[0].end_lineno :]
        head = [line for line in after if line.strip()][:2]
        assert "DO NOT EDIT" in head[0], f"{path.name}: no notice after the docstring"
        assert "Source: " in head[1], f"{path.name} does not name its source notebook"


def test_a_hand_edit_is_detected(tmp_path, monkeypatch):
    package = tmp_path / "gptcore"
    shutil.copytree(
        ROOT / "gptcore", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.setattr(export, "PACKAGE", package)
    assert export.stale_files(export.render_package()) == []
    data = package / "data.py"
    data.write_text(
        data.read_text(encoding="utf-8") + "\n# a hand edit\n", encoding="utf-8"
    )
    assert export.stale_files(export.render_package()) == [
        "gptcore/data.py differs from what its notebook exports"
    ]
    (package / "extra.py").write_text("x = 1\n", encoding="utf-8")
    assert "gptcore/extra.py is not exported by any notebook" in export.stale_files(
        export.render_package()
    )


def test_export_tags_need_a_module(tmp_path, monkeypatch):
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    cell = {
        "cell_type": "code",
        "metadata": {"tags": ["export"]},
        "source": ["x = 1\n"],
        "outputs": [],
        "execution_count": None,
    }
    nb = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (chapters / "01_x.ipynb").write_text(json.dumps(nb))
    monkeypatch.setattr(export, "CHAPTERS", chapters)
    monkeypatch.setattr(export, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match="no metadata"):
        export.render_package()
    nb["metadata"]["gptcore"] = {"module": "x", "api": ["hello"]}
    nb["cells"][0]["source"] = ["hello = 1\n", "_helper = 2\n"]
    nb["cells"].append(
        {
            **cell,
            "metadata": {"tags": ["export:y"]},
            "source": ["def y():\n", "    pass\n"],
        }
    )
    nb["cells"].append(
        {**cell, "metadata": {"tags": ["export:cli"]}, "source": ["z = 3\n"]}
    )
    nb["cells"].append(
        {**cell, "metadata": {"tags": ["export:cli.run"]}, "source": ["w = 4\n"]}
    )
    (chapters / "01_x.ipynb").write_text(json.dumps(nb))
    files = export.render_package()
    assert set(files) == {
        "x.py",
        "y.py",
        "cli/__init__.py",
        "cli/run.py",
        "__init__.py",
    }
    assert (
        '"hello": "x"' in files["__init__.py"] and "__version__" in files["__init__.py"]
    )
    assert '__all__ = ["hello"]' in files["x.py"] and '__all__ = ["y"]' in files["y.py"]
    assert (
        "# %% chapters/01_x.ipynb 1\ndef y():" in files["y.py"]
    )  # provenance: notebook and cell


def test_all_is_computed_never_written(tmp_path, monkeypatch):
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    cell = {
        "cell_type": "code",
        "metadata": {"tags": ["export"]},
        "source": ["__all__ = ['x']\nx = 1\n"],
        "outputs": [],
        "execution_count": None,
    }
    nb = {
        "cells": [cell],
        "metadata": {"gptcore": {"module": "x"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (chapters / "01_x.ipynb").write_text(json.dumps(nb))
    monkeypatch.setattr(export, "CHAPTERS", chapters)
    monkeypatch.setattr(export, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match="computes __all__"):
        export.render_package()
    nb["cells"][0]["source"] = ["x = 1\n"]
    nb["metadata"]["gptcore"]["api"] = ["nope"]
    (chapters / "01_x.ipynb").write_text(json.dumps(nb))
    with pytest.raises(SystemExit, match="'nope'"):
        export.render_package()
