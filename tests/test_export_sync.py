"""gptcore/ must be exactly what the chapter notebooks export."""
import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("export", ROOT / "scripts" / "export.py")
export = importlib.util.module_from_spec(spec)
spec.loader.exec_module(export)


def test_gptcore_matches_the_notebooks():
    problems = export.stale_files(export.render_package())
    assert not problems, "gptcore/ is out of sync with chapters/ (run `python scripts/export.py`):\n" + "\n".join(problems)


def test_every_generated_file_names_its_source_and_says_do_not_edit():
    for path in sorted((ROOT / "gptcore").glob("*.py")):
        head = path.read_text(encoding="utf-8").splitlines()[:3]
        assert "DO NOT EDIT" in head[0], f"{path.name} lacks the generated-file header"
        assert "Source: " in head[1], f"{path.name} does not name its source notebook"


def test_a_hand_edit_is_detected(tmp_path, monkeypatch):
    package = tmp_path / "gptcore"
    shutil.copytree(ROOT / "gptcore", package, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(export, "PACKAGE", package)
    assert export.stale_files(export.render_package()) == []
    data = package / "data.py"
    data.write_text(data.read_text(encoding="utf-8") + "\n# a hand edit\n", encoding="utf-8")
    assert export.stale_files(export.render_package()) == ["gptcore/data.py differs from what its notebook exports"]
    (package / "extra.py").write_text("x = 1\n", encoding="utf-8")
    assert "gptcore/extra.py is not exported by any notebook" in export.stale_files(export.render_package())


def test_export_tags_need_a_module(tmp_path, monkeypatch):
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    nb = {"cells": [{"cell_type": "code", "metadata": {"tags": ["export"]}, "source": ["x = 1\n"],
                     "outputs": [], "execution_count": None}],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (chapters / "01_x.ipynb").write_text(json.dumps(nb))
    monkeypatch.setattr(export, "CHAPTERS", chapters)
    monkeypatch.setattr(export, "ROOT", tmp_path)
    with pytest.raises(SystemExit, match="no metadata"):
        export.render_package()
    nb["metadata"]["gptcore"] = {"module": "x"}
    nb["cells"][0]["source"] = ['__all__ = ["x"]\n', "x = 1\n"]
    nb["cells"].append({"cell_type": "code", "metadata": {"tags": ["export:y"]}, "source": ['__all__ = []\n'],
                        "outputs": [], "execution_count": None})
    (chapters / "01_x.ipynb").write_text(json.dumps(nb))
    files = export.render_package()
    assert set(files) == {"x.py", "y.py", "__init__.py"}
    assert "from .x import x" in files["__init__.py"]
